"""Tiled inference: the layout covers the grid, blending is exact where tiles agree, each tile position
keeps its own recurrent state, and a 256x256 frame is not tiled at all."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ctc_submit.model.inference import RecurrentWindow, embed_pairs, embed_sequence
from ctc_submit.model.network import NetworkConfig, StackedHourglass
from ctc_submit.model.tiling import (
    OVERLAP,
    TILE_EDGES,
    axis_starts,
    blend_tiles,
    cut_tiles,
    ramp,
    tile_edge,
    tile_layout,
    tile_weights,
)


@settings(max_examples=300, deadline=None)
@given(length=st.integers(1, 3000), tile=st.integers(16, 300), overlap=st.integers(0, 100))
def test_tiles_cover_an_axis_exactly_each_overlapping_the_next_by_at_least_the_overlap(length, tile, overlap):
    overlap = min(overlap, tile - 1)
    starts = axis_starts(length, tile, overlap)
    size = min(tile, length)
    assert starts[0] == 0 and starts[-1] + size == length
    steps = np.diff(starts)
    assert (steps > 0).all() and (size - steps >= overlap).all()
    assert len(starts) == 1 or (len(starts) - 2) * (tile - overlap) + tile < length  # one tile fewer would not do


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(200, 700), cols=st.integers(200, 700))
def test_a_layout_covers_the_grid_exactly_with_tiles_of_one_shape(rows, cols):
    layout = tile_layout((rows, cols))
    covered = np.zeros((rows, cols), np.int32)
    for row_slice, col_slice in layout.slices():
        assert covered[row_slice, col_slice].shape == layout.tile
        assert all(edge in TILE_EDGES or edge == length < 256 for edge, length in zip(layout.tile, (rows, cols)))
        covered[row_slice, col_slice] += 1
    assert covered.min() >= 1
    assert layout.whole == (len(layout.corners) == 1)


def test_a_grid_of_the_networks_size_is_one_whole_tile_and_the_sim_grid_four_of_320():
    assert tile_layout((256, 256)).whole and tile_layout((40, 60)).whole
    sim = tile_layout((518, 471))
    assert not sim.whole and sim.tile == (320, 320) and sim.corners == ((0, 0), (0, 151), (198, 0), (198, 151))
    assert len(tile_layout((518, 471), (256, 256)).corners) == 9  # 589 824 tile pixels against 409 600
    assert tile_layout((300, 384)).tile == (256, 384)  # an axis of 300 takes two tiles of 256, not one of 320


@settings(max_examples=60, deadline=None)
@given(length=st.integers(1, 2000))
def test_the_tile_edge_covers_an_axis_with_the_fewest_pixels_and_never_exceeds_it(length):
    edge = tile_edge(length)
    assert edge <= length and (edge in TILE_EDGES or edge == length < min(TILE_EDGES))
    cost = len(axis_starts(length, edge)) * edge
    assert all(len(axis_starts(length, other)) * other >= cost for other in TILE_EDGES if other <= length)


def test_blending_weights_rise_smoothly_from_the_edges_and_stay_positive():
    weights = ramp(256)
    assert weights.min() > 0 and (weights[OVERLAP:-OVERLAP] == 1).all()
    np.testing.assert_array_equal(weights, weights[::-1])
    assert (np.diff(weights[:OVERLAP]) > 0).all() and np.abs(np.diff(weights)).max() < 0.03
    np.testing.assert_array_equal(tile_weights((256, 200)), np.outer(ramp(256), ramp(200)))


def test_blending_tiles_cut_from_one_embedding_gives_that_embedding_back():
    rng = np.random.default_rng(0)
    whole = rng.normal(size=(16, 518, 471)).astype(np.float32)
    whole /= np.linalg.norm(whole, axis=0, keepdims=True)
    layout = tile_layout(whole.shape[1:])
    tiles = np.stack([whole[:, rows, cols] for rows, cols in layout.slices()])
    blended = blend_tiles(torch.from_numpy(tiles), layout, torch.from_numpy(tile_weights(layout.tile)))
    np.testing.assert_allclose(blended.numpy(), whole, atol=1e-6)
    np.testing.assert_array_equal(cut_tiles(whole[0], layout), tiles[:, 0])


def tiny_network() -> StackedHourglass:
    torch.manual_seed(3)
    return StackedHourglass(NetworkConfig(filters=4, levels=3)).eval().to(memory_format=torch.channels_last)


@pytest.mark.parametrize("per_forward", [None, 3, 4])  # the CPU's default (one), a group and a remainder, one batch
def test_each_tile_position_keeps_its_own_state_as_if_it_were_a_video_of_its_own(per_forward):
    network = tiny_network()
    rng = np.random.default_rng(1)
    frames = [rng.normal(size=(300, 420)).astype(np.float32) for _ in range(2)]
    layout = tile_layout((300, 420))
    assert len(layout.corners) == 4
    tiled = list(embed_sequence(frames, network, "cpu", "fp32", per_forward))
    per_position = [
        list(embed_sequence([frame[rows, cols] for frame in frames], network, "cpu", "fp32"))
        for rows, cols in layout.slices()
    ]
    weights = torch.from_numpy(tile_weights(layout.tile))
    for index, embedding in enumerate(tiled):
        assert embedding.shape == (16, 300, 420)
        tiles = torch.from_numpy(np.stack([video[index] for video in per_position]))
        np.testing.assert_allclose(embedding, blend_tiles(tiles, layout, weights).numpy(), atol=1e-5)
    stateless = list(embed_sequence(frames[1:], network, "cpu", "fp32", per_forward))[0]
    assert np.abs(stateless - tiled[1]).max() > 1e-3  # the state carried from frame 0 matters


def test_a_whole_frame_is_run_as_before_tiling_existed():
    """The frame itself through the network, one item in the batch, normalised: no cut, no blend."""
    network = tiny_network()
    rng = np.random.default_rng(2)
    frames = [rng.normal(size=(256, 256)).astype(np.float32) for _ in range(2)]
    state, expected = None, []
    with torch.inference_mode():
        for frame in frames:
            tensor = torch.from_numpy(frame)[None, None].contiguous(memory_format=torch.channels_last)
            _, embedding, state = network(tensor, state)
            expected.append(torch.nn.functional.normalize(embedding.float(), dim=1)[0].numpy())
    (pair,) = embed_pairs(frames, network, "cpu", precision="fp32")
    np.testing.assert_array_equal(pair, np.stack(expected))


def test_a_recurrent_window_restarts_every_tile_positions_state():
    network = tiny_network()
    rng = np.random.default_rng(4)
    frames = [rng.normal(size=(300, 200)).astype(np.float32) for _ in range(4)]  # two tiles of 256x200
    windowed = list(embed_pairs(frames, network, "cpu", RecurrentWindow(hop=2, warmup=1), "fp32"))
    fresh = list(embed_pairs(frames[1:4], network, "cpu", precision="fp32"))
    np.testing.assert_array_equal(windowed[2], fresh[1])  # pair (2, 3): restarted at frame 2 after frame 1
