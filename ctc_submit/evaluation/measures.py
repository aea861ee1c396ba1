"""``evaluate``: every requested measure from one pass over the frames.

Each result mask is read once and compared with whatever reference exists for its
frame (tracking markers, whole-frame or slice segmentations); only per-object numbers
are kept, so memory does not grow with the length of the sequence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, cast

import numpy as np

from ctc_submit.evaluation import biological
from ctc_submit.evaluation.aogm import FrameMatch, GraphErrors, compare_graphs, det_log, frame_match, tra_log
from ctc_submit.evaluation.matching import check_same_shape, read_reference, read_result_mask
from ctc_submit.evaluation.official import official_measures
from ctc_submit.evaluation.seg import SegFrame, SegReference, list_seg_references, seg_frame, seg_log, seg_measure
from ctc_submit.io import MAN_TRACK_NAME, CTCInputError, digits_of, list_indexed_files, mask_name, read_tracks
from ctc_submit.overlap import overlap

# SEG, TRA and DET are the official measures; DET0 is DET with penalize_extra_detections=0,
# LNK the linking part of TRA, OP_CSB/OP_CTB the challenge's overall rankings. The biological
# ones (see evaluation.biological) follow; those marked (i) take a tolerance in frames, BC(1).
MEASURES = ("SEG", "TRA", "DET", "LNK", "OP_CSB", "OP_CTB", "DET0")
BIOLOGICAL = ("CT", "TF", "BC", "CCA", "BIO", "OP_CLB", "CHOTA", "DIV_PRECISION", "DIV_RECALL", "DIV_F1")
WITH_TOLERANCE = {"BC", "BIO", "OP_CLB", "DIV_PRECISION", "DIV_RECALL", "DIV_F1"}
# The biological measures reported by default (``evaluate --bio``, the run report).
BIOLOGICAL_DEFAULT = (
    "CT", "TF", "BC(0)", "CCA", "BIO(0)", "OP_CLB(0)", "CHOTA", "DIV_PRECISION(0)", "DIV_RECALL(0)", "DIV_F1(0)",
)  # fmt: skip
_NAME = re.compile(r"^([A-Z_0-9]+?)(?:\((\d+)\))?$")

_NEEDS_SEG = {"SEG", "OP_CSB", "OP_CTB"}
_NEEDS_LINKS = {"TRA", "LNK", "OP_CTB", *BIOLOGICAL}
_NEEDS_GRAPH = _NEEDS_LINKS | {"DET", "DET0", "OP_CSB"}
_OFFICIAL_INPUTS = {"SEG": {"SEG"}, "TRA": {"TRA"}, "DET": {"DET"}, "OP_CSB": {"SEG", "DET"}, "OP_CTB": {"SEG", "TRA"}}


@dataclass(frozen=True)
class Inputs:
    """Where a sequence's reference and result live, and what reference exists."""

    gt_dir: Path
    res_dir: Path
    digits: int
    markers: dict[int, Path]
    segmentations: list[SegReference]


def locate(dataset_dir: Path, seq: str, res_dir: Path | None = None) -> Inputs:
    """Find ``SEQ_GT`` (TRA markers, SEG files) and the result folder, and the digit count."""
    gt_dir = Path(dataset_dir) / f"{seq}_GT"
    res_dir = Path(res_dir) if res_dir is not None else Path(dataset_dir) / f"{seq}_RES"
    for folder in (gt_dir, res_dir):
        if not folder.is_dir():
            raise CTCInputError(f"{folder}: folder not found")
    markers = dict(list_indexed_files(gt_dir / "TRA", MAN_TRACK_NAME)) if (gt_dir / "TRA").is_dir() else {}
    segmentations = list_seg_references(gt_dir / "SEG") if (gt_dir / "SEG").is_dir() else []
    names = list(markers.values()) + [ref.path for ref in segmentations]
    if not names:
        raise CTCInputError(f"{gt_dir}: no ground truth (TRA/man_trackT.tif or SEG/man_segT.tif)")
    digits = {digits_of(path) for path in names}
    if len(digits) != 1:
        raise CTCInputError(f"{gt_dir}: ground-truth file names mix {sorted(digits)} digit time indices")
    return Inputs(gt_dir, res_dir, digits.pop(), markers, segmentations)


def available_measures(inputs: Inputs) -> list[str]:
    """The official measures whose reference exists: SEG with SEG files, TRA and DET with markers."""
    return (["SEG"] if inputs.segmentations else []) + (["TRA", "DET"] if inputs.markers else [])


def canonical_name(name: str) -> str:
    """``BC`` -> ``BC(0)``; an unknown name, or a tolerance on a measure without one, is refused."""
    found = _NAME.match(name.strip().upper())
    base, tolerance = (found.group(1), found.group(2)) if found else (name, None)
    if base in MEASURES or base in BIOLOGICAL:
        if base in WITH_TOLERANCE:
            return f"{base}({int(tolerance or 0)})"
        if tolerance is None:
            return base
    known = ", ".join([*MEASURES, *(f"{m}(i)" if m in WITH_TOLERANCE else m for m in BIOLOGICAL)])
    raise CTCInputError(f"unknown measure {name!r} (choose from {known})")


def base_name(name: str) -> str:
    return name.split("(")[0]


def _check_requested(inputs: Inputs, measures: Iterable[str]) -> list[str]:
    requested = list(dict.fromkeys(canonical_name(name) for name in measures))
    for full_name in requested:
        name = base_name(full_name)
        if name in _NEEDS_SEG and not inputs.segmentations:
            raise CTCInputError(f"{name}: no segmentation ground truth (man_segT.tif) in {inputs.gt_dir / 'SEG'}")
        if name in _NEEDS_GRAPH | _NEEDS_LINKS and not inputs.markers:
            raise CTCInputError(f"{name}: no tracking ground truth (man_trackT.tif) in {inputs.gt_dir / 'TRA'}")
    if not requested:
        raise CTCInputError("no measure requested")
    return requested


def _check_tracking_result(inputs: Inputs) -> None:
    """Refuse what the official TRA refuses: a track file inconsistent with the masks."""
    from ctc_submit.validate import validate_result  # imports scipy: only paid when links are scored

    report = validate_result(inputs.res_dir, inputs.gt_dir, inputs.digits)
    if not report.ok:
        more = f" (+{len(report.errors) - 1} more, see ctc-submit validate)" if len(report.errors) > 1 else ""
        raise CTCInputError(f"{inputs.res_dir}: {report.errors[0]}{more}")


def _result_slice(mask: np.ndarray, reference: SegReference, mask_path: Path) -> np.ndarray:
    if reference.z is None:
        return mask
    if mask.ndim != 3 or reference.z >= mask.shape[0]:
        raise CTCInputError(f"{mask_path}: no slice {reference.z} for {reference.path.name} (shape {mask.shape})")
    return mask[reference.z]


def _scan(inputs: Inputs, need_seg: bool, need_graph: bool) -> tuple[list[SegFrame], list[FrameMatch]]:
    """Read each needed result mask once and compare it with every reference of its frame."""
    segmentations: dict[int, list[SegReference]] = {}
    if need_seg:
        for segmentation in inputs.segmentations:
            segmentations.setdefault(segmentation.t, []).append(segmentation)
    markers = inputs.markers if need_graph else {}
    seg_frames: list[SegFrame] = []
    matches: list[FrameMatch] = []
    for t in sorted(set(segmentations) | set(markers)):
        mask_path = inputs.res_dir / mask_name(t, inputs.digits)
        mask = read_result_mask(mask_path)
        if t in markers:
            reference = read_reference(markers[t])
            check_same_shape(reference, markers[t], mask, mask_path)
            matches.append(frame_match(t, overlap(reference, mask)))
        for seg_reference in segmentations.get(t, []):
            reference = read_reference(seg_reference.path)
            result = _result_slice(mask, seg_reference, mask_path)
            check_same_shape(reference, seg_reference.path, result, mask_path)
            seg_frames.append(seg_frame(seg_reference, overlap(reference, result)))
    return seg_frames, matches


def evaluate(
    dataset_dir: Path,
    seq: str,
    res_dir: Path | None = None,
    measures: Iterable[str] | None = None,
    penalize_extra_detections: bool = True,
    log_dir: Path | None = None,
) -> dict[str, float | None]:
    """Score ``SEQ_RES`` (or ``res_dir``) against ``DATASET/SEQ_GT`` like the official evaluators.

    ``measures`` defaults to every official measure whose reference exists. Inputs the
    official tools reject raise :class:`CTCInputError`. With ``log_dir``, writes the
    official-style ``SEG_log.txt``/``TRA_log.txt``/``DET_log.txt`` listing every error.
    A biological measure that is undefined for this reference (BC without divisions) is None.
    """
    inputs = locate(dataset_dir, seq, res_dir)
    requested = _check_requested(inputs, available_measures(inputs) if measures is None else measures)
    bases = {base_name(name) for name in requested}
    need_links = bool(_NEEDS_LINKS.intersection(bases))
    if need_links:
        _check_tracking_result(inputs)
    need_seg = bool(_NEEDS_SEG.intersection(bases))
    need_graph = bool(_NEEDS_GRAPH.intersection(bases)) or need_links
    seg_frames, matches = _scan(inputs, need_seg, need_graph)

    values: dict[str, float | None] = {}
    if need_seg:
        values["SEG"] = seg_measure(seg_frames)
    errors: GraphErrors | None = None
    if need_graph:
        tracks = None
        if need_links:
            tracks = (
                read_tracks(inputs.gt_dir / "TRA" / "man_track.txt"),
                read_tracks(inputs.res_dir / "res_track.txt"),
            )
        errors = compare_graphs(matches, tracks)
        values["DET"] = errors.det(penalize_extra_detections)
        values["DET0"] = errors.det(penalize_extra_detections=False)
        if need_links:
            values["TRA"] = errors.tra()
            if bases & {"LNK", "OP_CLB"}:
                values["LNK"] = errors.lnk()
            assert tracks is not None  # read above whenever need_links
            values.update(_biological(requested, matches, *tracks))
    values = _derived(requested, values)
    if log_dir is not None:
        _write_logs(Path(log_dir), requested, values, seg_frames, errors, penalize_extra_detections)
    return values


def _biological(
    requested: list[str], frames: list[FrameMatch], gt_tracks: list, res_tracks: list
) -> dict[str, float | None]:
    """The biological measures asked for (BIO and OP_CLB need all four of CT, TF, BC, CCA)."""
    matches = biological.FrameMatches(frames)
    values: dict[str, float | None] = {
        "CT": biological.complete_tracks(matches, gt_tracks, res_tracks),
        "TF": biological.track_fractions(matches, gt_tracks),
        "CCA": biological.cell_cycle_accuracy(gt_tracks, res_tracks),
    }
    if "CHOTA" in requested:
        values["CHOTA"] = biological.chota(frames, gt_tracks, res_tracks)
    tolerances = {int(name[name.index("(") + 1 : -1]) for name in requested if "(" in name}
    for i in sorted(tolerances):
        counts = biological.division_counts(matches, gt_tracks, res_tracks, i)
        values[f"BC({i})"] = values[f"DIV_F1({i})"] = counts.f1()
        values[f"DIV_PRECISION({i})"] = counts.precision()
        values[f"DIV_RECALL({i})"] = counts.recall()
        values[f"BIO({i})"] = biological.bio([values["CT"], values["TF"], values[f"BC({i})"], values["CCA"]])
    return values


def _derived(requested: list[str], values: dict[str, float | None]) -> dict[str, float | None]:
    """The overall rankings from SEG, DET and TRA, in the requested order."""
    # SEG, DET, TRA and LNK are always numbers; only biological measures can be None.
    if "OP_CSB" in requested:
        values["OP_CSB"] = (cast(float, values["SEG"]) + cast(float, values["DET"])) / 2
    if "OP_CTB" in requested:
        values["OP_CTB"] = (cast(float, values["SEG"]) + cast(float, values["TRA"])) / 2
    for name in requested:
        if name.startswith("OP_CLB("):
            bio = values[name.replace("OP_CLB", "BIO")]
            values[name] = None if bio is None else (cast(float, values["LNK"]) + bio) / 2
    return {name: values[name] for name in requested}


def evaluate_official(
    dataset_dir: Path,
    seq: str,
    res_dir: Path | None = None,
    measures: Iterable[str] | None = None,
    log_dir: Path | None = None,
) -> dict[str, float | None]:
    """Like :func:`evaluate`, but SEG/TRA/DET come from the official executables."""
    inputs = locate(dataset_dir, seq, res_dir)
    requested = _check_requested(inputs, available_measures(inputs) if measures is None else measures)
    local_only = [name for name in requested if base_name(name) in ("LNK", "DET0", *BIOLOGICAL)]
    if local_only:
        raise CTCInputError(f"{', '.join(local_only)}: computed here only, not by the official tools", "official")
    needed = set().union(*(_OFFICIAL_INPUTS[name] for name in requested))
    official = [name for name in ("SEG", "TRA", "DET") if name in needed]
    values: dict[str, float | None] = dict(
        official_measures(inputs.gt_dir, inputs.res_dir, seq, inputs.digits, official, log_dir)
    )
    return _derived(requested, values)


def _write_logs(
    log_dir: Path,
    requested: list[str],
    values: dict[str, float | None],
    seg_frames: list[SegFrame],
    errors: GraphErrors | None,
    penalize_extra_detections: bool,
) -> None:
    logs = {}
    if "SEG" in requested:
        logs["SEG_log.txt"] = seg_log(seg_frames, cast(float, values["SEG"]))
    if errors is not None and "TRA" in requested:
        logs["TRA_log.txt"] = tra_log(errors, cast(float, values["TRA"]))
    if errors is not None and "DET" in requested:
        logs["DET_log.txt"] = det_log(errors, cast(float, values["DET"]), penalize_extra_detections)
    elif errors is not None and "DET0" in requested:
        logs["DET_log.txt"] = det_log(errors, cast(float, values["DET0"]), penalize_extra_detections=False)
    log_dir.mkdir(parents=True, exist_ok=True)
    for name, text in logs.items():
        (log_dir / name).write_text(text)
