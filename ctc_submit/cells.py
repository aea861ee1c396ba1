"""The per-cell table a biologist analyses: one row per cell and frame, beside the result folder.

A CTC result folder must hold only masks and ``res_track.txt``; the table (track, frame,
centroid, area, parent) lives next to it as ``01_RES.cells.csv``, read back from the written
masks so it describes exactly what was submitted.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from scipy import ndimage

from ctc_submit.io import Track, mask_name, read_labels, write_atomically

COLUMNS = ("track", "frame", "centroid_row", "centroid_col", "area", "parent")


def cell_table_path(output_dir: Path) -> Path:
    output_dir = Path(output_dir)
    return output_dir.with_name(f"{output_dir.name}.cells.csv")


def cell_rows(output_dir: Path, tracks: Iterable[Track], frames: int, digits: int) -> Iterator[tuple]:
    """(track, frame, centroid row, centroid column, area in pixels, parent) per labelled object, frame by frame."""
    parents = {track.label: track.parent for track in tracks}
    for frame in range(frames):
        labels = read_labels(Path(output_dir) / mask_name(frame, digits))
        present = np.unique(labels)
        present = present[present > 0]
        if not present.size:
            continue
        areas = ndimage.sum_labels(np.ones_like(labels), labels, present)
        centroids = ndimage.center_of_mass(np.ones_like(labels), labels, present)
        for label, area, (row, col) in zip(present.tolist(), areas, centroids):
            yield label, frame, round(row, 2), round(col, 2), int(area), parents.get(label, 0)


def write_cell_table(path: Path, rows: Iterable[tuple]) -> None:
    """Write atomically, like the run report."""

    def save(target: Path) -> None:
        with open(target, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows(rows)

    write_atomically(Path(path), save)
