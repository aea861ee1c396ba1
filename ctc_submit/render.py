"""Pictures of a tracking result: an animated overlay, a lineage tree and a contact sheet.

Numbers (SEG, TRA) say how good a result is, not what went wrong; a look at the outlines and
the lineage usually does. Every track keeps one colour, derived from its label alone, in all
three pictures, so a track can be followed from the GIF to its branch in the tree. The layout
of the tree is a pure function of the tracks so that it can be tested without drawing.
"""

from __future__ import annotations

import colorsys
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ctc_submit.download import remove_empty
from ctc_submit.io import (
    FRAME_NAME,
    CTCInputError,
    Track,
    list_indexed_files,
    read_frame,
    read_labels,
    read_tracks,
    write_atomically,
)
from ctc_submit.submission import check_apart

MASK_NAME = re.compile(r"^(?:mask|man_track)(\d+)\.tiff?$")
TRACK_FILES = ("res_track.txt", "man_track.txt")
GOLDEN = 0.6180339887498949
GIF_SIDE = 384
GIF_COLOURS = 64
SHEET_FRAMES = 6
SHEET_COLUMNS = 3


def require_viz() -> None:
    """Pillow and matplotlib are an optional extra: say how to get them instead of a traceback."""
    try:
        import matplotlib  # noqa: F401
        import PIL  # noqa: F401
    except ImportError as error:
        raise CTCInputError(f"rendering needs {error.name}: pip install 'ctc_submit[viz]'") from None


def label_color(label: int) -> tuple[int, int, int]:
    """A bright colour that depends on the label only; golden-ratio hues keep neighbours apart."""
    hue = (label * GOLDEN) % 1.0
    saturation = 0.9 - 0.3 * (label % 3) / 2
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, 1.0)
    return round(red * 255), round(green * 255), round(blue * 255)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Stretch the 0.5-99.5 percentile range to 0-255: raw frames are often 16-bit and dim."""
    image = np.asarray(image, dtype=np.float32)
    low, high = np.percentile(image, [0.5, 99.5])
    scaled = (image - low) / max(float(high - low), 1e-6)
    return (np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)


def boundaries(labels: np.ndarray) -> np.ndarray:
    """Pixels of an object that touch another label (or the background) in 4-connectivity."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:-1] |= labels[:-1] != labels[1:]
    edge[1:] |= labels[1:] != labels[:-1]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    return edge & (labels > 0)


def centroids(labels: np.ndarray) -> dict[int, tuple[float, float]]:
    """(row, column) centre of mass of every label present."""
    flat = labels.ravel().astype(np.int64)
    counts = np.bincount(flat)
    rows, columns = np.indices(labels.shape)
    sum_rows = np.bincount(flat, weights=rows.ravel())
    sum_columns = np.bincount(flat, weights=columns.ravel())
    return {
        int(label): (sum_rows[label] / counts[label], sum_columns[label] / counts[label])
        for label in np.flatnonzero(counts)
        if label
    }


def overlay(image: np.ndarray | None, labels: np.ndarray, tint: float = 0.2) -> np.ndarray:
    """RGB picture: the frame in grey, each object lightly tinted and outlined in its colour."""
    gray = np.zeros(labels.shape, np.uint8) if image is None else to_uint8(image)
    rgb = np.repeat(gray[..., None], 3, axis=2).astype(np.float32)
    present = np.unique(labels)
    present = present[present > 0]
    palette = np.zeros((int(present.max()) + 1 if present.size else 1, 3), np.float32)
    for label in present:
        palette[label] = label_color(int(label))
    colours = palette[labels]
    inside = (labels > 0)[..., None]
    rgb = np.where(inside, (1 - tint) * rgb + tint * colours, rgb)
    edge = boundaries(labels)
    rgb[edge] = colours[edge]
    return rgb.astype(np.uint8)


def fit(image: np.ndarray | None, labels: np.ndarray, side: int) -> tuple[np.ndarray | None, np.ndarray]:
    """Shrink frame and labels so the longer side is at most ``side`` (labels by nearest neighbour)."""
    from PIL import Image

    height, width = labels.shape
    scale = side / max(height, width)
    if scale >= 1:
        return image, labels
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small_labels = np.asarray(Image.fromarray(labels.astype(np.int32)).resize(size, Image.Resampling.NEAREST))
    if image is None:
        return None, small_labels
    small_image = np.asarray(Image.fromarray(np.asarray(image, np.float32)).resize(size, Image.Resampling.BILINEAR))
    return small_image, small_labels


def annotated_frame(image: np.ndarray | None, labels: np.ndarray, side: int):
    """A Pillow image of :func:`overlay` with each label written at its centroid."""
    from PIL import Image, ImageDraw, ImageFont

    image, labels = fit(image, labels, side)
    picture = Image.fromarray(overlay(image, labels))
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=max(11, max(labels.shape) // 32))
    for label, (row, column) in centroids(labels).items():
        draw.text(
            (column, row),
            str(label),
            fill=label_color(label),
            font=font,
            anchor="mm",
            stroke_width=1,
            stroke_fill=(0, 0, 0),
        )
    return picture


@dataclass(frozen=True)
class Segment:
    """One line of the lineage plot, from (t0, y0) to (t1, y1); ``division`` marks a branch."""

    label: int
    t0: float
    y0: float
    t1: float
    y1: float
    division: bool


@dataclass(frozen=True)
class LineageLayout:
    rows: dict[int, float]
    segments: list[Segment]


def lineage_layout(tracks: Sequence[Track]) -> LineageLayout:
    """Place each track on a row: leaves in depth-first order, a parent midway between its children.

    Frame ``t`` spans ``[t, t + 1)`` on the time axis, so a track is drawn from ``begin`` to
    ``end + 1`` and a division is a branch from the parent's end to each child's begin. A parent
    label missing from the list makes the track a root; cycles in malformed files are cut.
    """
    by_label = {track.label: track for track in tracks}
    children: dict[int, list[int]] = defaultdict(list)
    for track in sorted(tracks, key=lambda t: (t.begin, t.label)):
        if track.parent in by_label and track.parent != track.label:
            children[track.parent].append(track.label)
    order = sorted(tracks, key=lambda t: (t.parent in by_label, t.begin, t.label))
    rows: dict[int, float] = {}
    placed_children: dict[int, list[int]] = defaultdict(list)
    seen: set[int] = set()
    next_leaf = 0
    for start in order:
        if start.label in seen:
            continue
        seen.add(start.label)
        stack = [(start.label, False)]
        while stack:
            label, expanded = stack.pop()
            if expanded:
                kid_rows = [rows[kid] for kid in placed_children[label]]
                if kid_rows:
                    rows[label] = (min(kid_rows) + max(kid_rows)) / 2
                else:
                    rows[label] = float(next_leaf)
                    next_leaf += 1
                continue
            stack.append((label, True))
            for kid in reversed(children[label]):
                if kid not in seen:
                    seen.add(kid)
                    placed_children[label].append(kid)
                    stack.append((kid, False))
            placed_children[label].reverse()
    segments = []
    for track in sorted(tracks, key=lambda t: t.label):
        row = rows[track.label]
        segments.append(Segment(track.label, track.begin, row, track.end + 1, row, False))
    for parent, kids in placed_children.items():
        for kid in kids:
            segments.append(
                Segment(parent, by_label[parent].end + 1, rows[parent], by_label[kid].begin, rows[kid], True)
            )
    return LineageLayout(rows, segments)


@dataclass(frozen=True)
class FramePair:
    index: int
    mask: Path
    image: Path | None


def default_images(res_dir: Path) -> Path | None:
    """The raw sequence next to a result: ``DATASET/01_RES`` or ``DATASET/01_GT/TRA`` -> ``DATASET/01``."""
    res_dir = Path(res_dir)
    candidates = []
    if res_dir.name.endswith("_RES"):
        candidates.append(res_dir.parent / res_dir.name[: -len("_RES")])
    if res_dir.parent.name.endswith("_GT"):
        candidates.append(res_dir.parent.parent / res_dir.parent.name[: -len("_GT")])
    return next((candidate for candidate in candidates if candidate.is_dir()), None)


def pair_frames(res_dir: Path, images_dir: Path | None) -> list[FramePair]:
    """Masks of ``res_dir`` with their input frame (same time index) when ``images_dir`` is given."""
    masks = list_indexed_files(res_dir, MASK_NAME)
    if not masks:
        raise CTCInputError(f"{res_dir}: no maskNNN.tif (or man_trackNNN.tif) files")
    if images_dir is None:
        return [FramePair(index, mask, None) for index, mask in masks]
    images = dict(list_indexed_files(images_dir, FRAME_NAME))
    missing = [mask for index, mask in masks if index not in images]
    if missing:
        raise CTCInputError(f"{images_dir}: no input frame with the time index of {missing[0].name}")
    return [FramePair(index, mask, images[index]) for index, mask in masks]


def load(pair: FramePair) -> tuple[np.ndarray | None, np.ndarray]:
    labels = read_labels(pair.mask)
    image = None if pair.image is None else read_frame(pair.image)
    if labels.ndim != 2:
        raise CTCInputError(f"{pair.mask}: expected a 2D mask, got shape {labels.shape}")
    if image is not None and image.shape != labels.shape:
        assert pair.image is not None  # image was read from it
        raise CTCInputError(f"{pair.mask}: shape {labels.shape} differs from {pair.image.name} {image.shape}")
    return image, labels


def write_gif(
    pairs: Sequence[FramePair], path: Path, side: int = GIF_SIDE, colours: int = GIF_COLOURS, frame_ms: int = 150
) -> None:
    """Animated overlay of every frame, looping; 384 px and 64 colours keep 100 frames near 5 MB."""
    frames = [annotated_frame(*load(pair), side).quantize(colors=colours, method=2) for pair in pairs]
    write_atomically(
        path,
        lambda target: frames[0].save(
            target, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0
        ),
    )


def write_contact_sheet(
    pairs: Sequence[FramePair], path: Path, count: int = SHEET_FRAMES, columns: int = SHEET_COLUMNS, side: int = 320
) -> None:
    """A grid of a few evenly spaced frames with their time index, for reports and a quick look."""
    from PIL import Image, ImageDraw, ImageFont

    picks = sorted({round(i) for i in np.linspace(0, len(pairs) - 1, min(count, len(pairs)))})
    tiles = [(pairs[i].index, annotated_frame(*load(pairs[i]), side)) for i in picks]
    tile_w = max(tile.width for _, tile in tiles)
    tile_h = max(tile.height for _, tile in tiles)
    caption = 20
    columns = min(columns, len(tiles))
    grid_rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * tile_w, grid_rows * (tile_h + caption)), (17, 17, 17))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for slot, (index, tile) in enumerate(tiles):
        x, y = (slot % columns) * tile_w, (slot // columns) * (tile_h + caption)
        draw.text((x + 4, y + 2), f"t = {index}", fill=(230, 230, 230), font=font)
        sheet.paste(tile, (x, y + caption))
    write_atomically(path, lambda target: sheet.save(target, format="PNG"))


def write_lineage(tracks: Sequence[Track], path: Path) -> None:
    """The lineage tree: time to the right, one line per track, branches at divisions."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    layout = lineage_layout(tracks)
    n_rows = max(1, len(set(layout.rows.values())))
    figure = Figure(figsize=(10, min(60.0, max(3.0, 0.16 * n_rows + 1))), dpi=100, facecolor="#111111")
    axes = figure.add_subplot()
    axes.set_facecolor("#111111")
    colours = [tuple(c / 255 for c in label_color(segment.label)) for segment in layout.segments]
    lines = [((s.t0, s.y0), (s.t1, s.y1)) for s in layout.segments]
    widths = [1.0 if s.division else 2.5 for s in layout.segments]
    axes.add_collection(LineCollection(lines, colors=colours, linewidths=widths))
    if len(tracks) <= 150:
        for track in tracks:
            axes.text(
                track.begin - 0.3,
                layout.rows[track.label],
                str(track.label),
                ha="right",
                va="center",
                fontsize=6,
                color=tuple(c / 255 for c in label_color(track.label)),
            )
    first = min(track.begin for track in tracks)
    last = max(track.end for track in tracks) + 1
    axes.set_xlim(first - max(2.0, 0.05 * (last - first)), last + 1)
    axes.set_ylim(max(layout.rows.values()) + 1, -1)
    axes.set_yticks([])
    axes.set_xlabel("frame", color="#dddddd")
    branches = Counter(s.label for s in layout.segments if s.division)
    divisions = sum(count > 1 for count in branches.values())
    axes.set_title(f"{len(tracks)} tracks, {divisions} divisions", color="#dddddd")
    axes.tick_params(colors="#dddddd")
    for spine in axes.spines.values():
        spine.set_color("#555555")
    figure.tight_layout()
    write_atomically(path, lambda target: figure.savefig(target, format="png", facecolor=figure.get_facecolor()))


def track_file(res_dir: Path) -> Path | None:
    return next((res_dir / name for name in TRACK_FILES if (res_dir / name).is_file()), None)


def render(res_dir: Path, out_dir: Path, images_dir: Path | None = None) -> dict[str, Path]:
    """Write overlay.gif, frames.png and (with a track file) lineage.png; returns what was written.

    A failure half-way removes the pictures of this call and the folders it created: a result
    is either drawn completely or leaves no trace.
    """
    require_viz()
    res_dir, out_dir = Path(res_dir), Path(out_dir)
    check_apart(out_dir, [res_dir] + ([images_dir] if images_dir else []))
    pairs = pair_frames(res_dir, images_dir)
    tracks_path = track_file(res_dir)
    tracks = read_tracks(tracks_path) if tracks_path else []
    created = [folder for folder in (out_dir.absolute(), *out_dir.absolute().parents) if not folder.exists()]
    written: dict[str, Path] = {}
    try:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CTCInputError(f"{out_dir}: cannot create output folder ({error.strerror})") from None
        drawers = [
            ("overlay", "overlay.gif", lambda path: write_gif(pairs, path)),
            ("frames", "frames.png", lambda path: write_contact_sheet(pairs, path)),
        ]
        if tracks:
            drawers.append(("lineage", "lineage.png", lambda path: write_lineage(tracks, path)))
        for kind, name, draw in drawers:
            draw(out_dir / name)
            written[kind] = out_dir / name
    except BaseException:
        for path in written.values():
            path.unlink(missing_ok=True)
        remove_empty(created)
        raise
    return written
