"""A grid larger than the network's input, covered by overlapping tiles and blended back.

A preset with a ``network_scale`` gives a grid larger than 256x256 (:func:`ctc_submit.normalize.
network_grid`). The network runs on tiles of it, all tiles of a frame as one batch, each tile
position with its own recurrent state through the video. The tiles are as large as covers the grid
with the fewest pixels (:func:`tile_edge`): the network, trained on 256x256 crops, is convolutional,
and on SIM+'s 518x471 grid four 320x320 tiles cost 0.69 of nine 256x256 ones (held-out SEG / TRA
0.8413 / 0.9682 against 0.8414 / 0.9675). Near a tile's edge the network sees
less context, so each tile's embeddings are weighted by a smooth ramp that falls towards its
edges, summed and L2-normalised again: one embedding image of the whole grid per frame, and the
stages after the network do not know about tiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

OVERLAP = 64  # least overlap of neighbouring tiles, and the width of the blending ramps
# Tile edges to choose from: multiples of 64 (seven levels halve a tile six times), the largest kept
# small enough that one tile's activations stay within a few hundred MiB on a CPU.
TILE_EDGES = (256, 320, 384)


def axis_starts(length: int, tile: int, overlap: int = OVERLAP) -> list[int]:
    """First pixels of tiles of ``tile`` pixels covering ``length`` pixels, each overlapping the next by
    at least ``overlap``, spread evenly from 0 to ``length - tile``; one tile of ``length`` when it fits."""
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    return [round(index * (length - tile) / (count - 1)) for index in range(count)]


@dataclass(frozen=True)
class TileLayout:
    """Where the tiles lie on a grid: their top-left corners and their common shape."""

    grid: tuple[int, int]
    tile: tuple[int, int]
    corners: tuple[tuple[int, int], ...]

    @property
    def whole(self) -> bool:
        """One tile that is the whole grid: the network runs on the frame itself, nothing is blended."""
        return self.tile == self.grid

    def slices(self) -> list[tuple[slice, slice]]:
        return [(slice(row, row + self.tile[0]), slice(col, col + self.tile[1])) for row, col in self.corners]


def tile_edge(length: int, overlap: int = OVERLAP) -> int:
    """The edge of :data:`TILE_EDGES`, at most ``length``, whose tiles cover ``length`` pixels with the
    fewest pixels in all (the smallest where several tie); ``length`` itself below the smallest edge."""
    edges = [edge for edge in TILE_EDGES if edge <= length]
    if not edges:
        return length
    return min(edges, key=lambda edge: (len(axis_starts(length, edge, overlap)) * edge, edge))


def tile_layout(grid: tuple[int, ...], tile: tuple[int, int] | None = None, overlap: int = OVERLAP) -> TileLayout:
    """Tiles of ``tile`` (default: :func:`tile_edge` along each axis; the grid's size along an axis
    shorter than it) covering ``grid`` exactly, row by row, neighbours overlapping by at least ``overlap``."""
    tile = tile or (tile_edge(grid[0], overlap), tile_edge(grid[1], overlap))
    shape = (min(tile[0], grid[0]), min(tile[1], grid[1]))
    rows, cols = (axis_starts(length, size, overlap) for length, size in zip(grid, shape))
    return TileLayout((grid[0], grid[1]), shape, tuple((row, col) for row in rows for col in cols))


def ramp(length: int, width: int = OVERLAP) -> np.ndarray:
    """Weights of a tile's pixels along one axis: a raised cosine rising over ``width`` pixels from
    each end to 1, positive everywhere (a pixel that only one tile covers keeps that tile's value)."""
    distance = np.minimum(np.arange(length), np.arange(length)[::-1]) + 0.5
    return np.where(distance < width, np.sin(np.pi / 2 * distance / max(width, 1)) ** 2, 1.0).astype(np.float32)


def tile_weights(tile: tuple[int, int], overlap: int = OVERLAP) -> np.ndarray:
    """(h, w) blending weights of one tile: the product of the ramps along both axes."""
    return np.outer(ramp(tile[0], overlap), ramp(tile[1], overlap))


def cut_tiles(image: np.ndarray, layout: TileLayout) -> np.ndarray:
    """(n, h, w) tiles of a (H, W) grid image, in the layout's order."""
    return np.stack([image[rows, cols] for rows, cols in layout.slices()])


def blend_tiles(tiles: torch.Tensor, layout: TileLayout, weights: torch.Tensor) -> torch.Tensor:
    """(n, E, h, w) unit embeddings of the tiles -> (E, H, W) unit embeddings of the grid: the weighted
    sum where tiles overlap, L2-normalised."""
    blended = tiles.new_zeros((tiles.shape[1], *layout.grid))
    for tile, (rows, cols) in zip(tiles, layout.slices()):
        blended[:, rows, cols] += tile * weights
    return torch.nn.functional.normalize(blended, dim=0)
