"""Model selection by the real score: the whole pipeline on a block of held-out frames, scored.

A loss says how well the embeddings fit the training objective, not whether the tracker finds
the cells in them: the validation loss of the last model rose when a loss term was added while
its segmentation improved. So a checkpoint is judged as a user would judge the model: the
network, clustering, merge and lineage run on frames that no training clip touched, and the
result is scored with the official measures (SEG against the gold truth of the frames that have
one, SEG against the silver truth of every frame, TRA, DET).

The block is laid out challenge-style once (frames renumbered from 0 as links to the originals,
the tracking truth cut to the block) so the scorer and the pipeline run on it unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import torch

from ctc_submit.evaluation import evaluate
from ctc_submit.io import CTCInputError, Track, list_frames, read_frame, read_tracks, write_tracks
from ctc_submit.model.compute import Precision
from ctc_submit.model.inference import RecurrentWindow, embed_pairs
from ctc_submit.model.network import StackedHourglass
from ctc_submit.normalize import normalize_frames
from ctc_submit.pipeline import track_pairs
from ctc_submit.presets import Preset

SEQUENCE = "01"  # the name the block's layout gives its one sequence
SCORES = ("SEG", "SEG_ST", "TRA", "DET")


@dataclass(frozen=True)
class HeldOutBlock:
    """Frames ``first``..``last`` of a sequence kept for validation; no training clip may touch
    them or the ``margin`` frames on either side (the recurrent state would carry them over)."""

    first: int
    last: int
    margin: int = 2

    @classmethod
    def parse(cls, text: str, margin: int = 2) -> HeldOutBlock:
        """``FIRST-LAST``, e.g. ``21-40``."""
        match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
        if not match or int(match.group(1)) >= int(match.group(2)):
            raise CTCInputError(f"held-out block {text!r}: expected FIRST-LAST with FIRST < LAST, e.g. 21-40")
        return cls(int(match.group(1)), int(match.group(2)), margin)

    @property
    def frames(self) -> range:
        return range(self.first, self.last + 1)

    @property
    def excluded(self) -> range:
        """The block and its margins: frames no training clip may contain."""
        return range(max(0, self.first - self.margin), self.last + self.margin + 1)

    def training_ranges(self, frame_count: int) -> list[range]:
        """The runs of frames left for training, before and after the excluded range."""
        runs = [range(0, self.excluded.start), range(self.excluded.stop, frame_count)]
        return [run for run in runs if len(run)]

    def describe(self) -> str:
        return (
            f"frames {self.first}-{self.last} (no training clip touches {self.excluded.start}-{self.excluded.stop - 1})"
        )


def block_tracks(tracks: list[Track], block: HeldOutBlock) -> list[Track]:
    """Tracks cut to the block and renumbered from its first frame; a parent outside the block is dropped."""
    inside = {
        track.label: Track(track.label, max(track.begin, block.first) - block.first, min(track.end, block.last) - block.first, track.parent)
        for track in tracks
        if track.begin <= block.last and track.end >= block.first
    }  # fmt: skip
    return sorted(
        Track(track.label, track.begin, track.end, track.parent if track.parent in inside else 0)
        for track in inside.values()
    )


def _link(target: Path, source: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source.resolve())


def lay_out_block(dataset_dir: Path, sequence: str, block: HeldOutBlock, destination: Path) -> tuple[Path, Path]:
    """``destination/gold`` (frames, tracking truth, gold SEG) and ``destination/silver`` (silver truth
    as SEG, the gold where a frame has none: a simulated dataset such as Fluo-N2DH-SIM+ has no silver
    truth, its gold covers every frame), each a dataset folder holding sequence ``01``; returns both."""
    dataset_dir = Path(dataset_dir)
    frames = list_frames(dataset_dir / sequence)
    if block.last >= len(frames):
        raise CTCInputError(
            f"held-out block {block.first}-{block.last}: {dataset_dir / sequence} has {len(frames)} frames"
        )
    digits = len(frames[0].stem) - 1
    gt, silver_truth = dataset_dir / f"{sequence}_GT", dataset_dir / f"{sequence}_ST"
    gold, silver = Path(destination) / "gold", Path(destination) / "silver"
    for new, old in enumerate(block.frames):
        _link(gold / SEQUENCE / f"t{new:03d}.tif", frames[old])
        _link(
            gold / f"{SEQUENCE}_GT" / "TRA" / f"man_track{new:03d}.tif", gt / "TRA" / f"man_track{old:0{digits}d}.tif"
        )
        for sources, layout in (((gt,), gold), ((silver_truth, gt), silver)):
            segmentations = [source / "SEG" / f"man_seg{old:0{digits}d}.tif" for source in sources]
            found = [path for path in segmentations if path.is_file()]
            if found:
                _link(layout / f"{SEQUENCE}_GT" / "SEG" / f"man_seg{new:03d}.tif", found[0])
    write_tracks(
        gold / f"{SEQUENCE}_GT" / "TRA" / "man_track.txt",
        block_tracks(read_tracks(gt / "TRA" / "man_track.txt"), block),
    )
    if not (gold / f"{SEQUENCE}_GT" / "SEG").is_dir():
        raise CTCInputError(
            f"held-out block {block.first}-{block.last}: no gold segmentation in {gt / 'SEG'} for these frames"
        )
    return gold, silver


def selection_score(scores: dict[str, float]) -> float:
    """What a checkpoint is chosen by: the challenge's OP_CTB, the mean of SEG (gold) and TRA."""
    return (scores["SEG"] + scores["TRA"]) / 2


@dataclass
class PipelineValidation:
    """The held-out block, laid out once; :meth:`score` runs a network through the whole pipeline on it.

    The clustering's spatial weight c depends on how far apart a network pushes neighbouring
    cells, so each of ``c_values`` is tried on the same embeddings and the best one is kept (and
    goes into the model card with the checkpoint it was chosen for).
    """

    gold: Path
    silver: Path
    preset: Preset
    c_values: tuple[float, ...]
    window: RecurrentWindow | None = None
    precision: Precision = "fp32"

    def __post_init__(self) -> None:
        self.paths = list_frames(self.gold / SEQUENCE)
        self.shape = read_frame(self.paths[0]).shape
        self.inputs = list(normalize_frames((read_frame(path) for path in self.paths), self.preset))

    def score(self, network: StackedHourglass, device: torch.device) -> dict:
        """Scores at the best c: {"c", "SEG", "SEG_ST", "TRA", "DET", "score", "by_c": {c: scores}}."""
        was_training = network.training
        network.eval()
        pairs = list(embed_pairs(self.inputs, network, device, self.window, self.precision))
        network.train(was_training)
        result = self.gold / f"{SEQUENCE}_RES"
        by_c = {}
        for c in self.c_values:
            track_pairs(
                pairs, self.shape, replace(self.preset, c=c), result, 3, overwrite=True,
                images=lambda: (read_frame(path) for path in self.paths),
            )  # fmt: skip
            scores = evaluate(self.gold, SEQUENCE, result, ["SEG", "TRA", "DET"])
            scores["SEG_ST"] = evaluate(self.silver, SEQUENCE, result, ["SEG"])["SEG"]
            by_c[c] = {name: round(float(cast(float, scores[name])), 6) for name in SCORES}  # SEG/TRA/DET: never None
        best = max(by_c, key=lambda c: selection_score(by_c[c]))
        return {"c": best, **by_c[best], "score": round(selection_score(by_c[best]), 6), "by_c": by_c}
