"""The chained stages: timing, pairing, and whole runs on synthetic embeddings and a tiny network."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch
from ctc_layout import copy_first_frames, save_tiny_model
from synthetic import overlapping_pairs, synthetic_sequence

from ctc_submit import pipeline
from ctc_submit.io import CTCInputError, Track, list_frames, read_frame, read_labels, read_tracks, write_mask
from ctc_submit.normalize import NETWORK_SIZE, normalize_frame
from ctc_submit.overlap import overlap
from ctc_submit.pipeline import (
    STAGES,
    ClusteringUsage,
    CorePlan,
    StageClock,
    area_on_grid,
    border_band,
    cluster_pairs,
    clustering_on_grid,
    core_plan,
    prefetched,
    run_pipeline,
    signal_on_grid,
    track_pairs,
    write_tracked,
)
from ctc_submit.presets import get_preset
from ctc_submit.resources import peak_memory_mib
from ctc_submit.submission import SubmissionWriter
from ctc_submit.tracker import load
from ctc_submit.validate import validate_result

PRESET = get_preset("DIC-C2DH-HeLa")
HELD_MIB = 400


def test_stage_time_is_exclusive_of_nested_stages():
    ticks = itertools.count()
    clock = StageClock(timer=lambda: float(next(ticks)))

    def source():
        for item in range(3):
            with clock.stage("inner"):
                pass
            yield item

    assert list(clock.iterate(source(), "outer")) == [0, 1, 2]
    # each next(): outer enters (1 tick), inner runs (1 tick), back in outer (1 tick); the final next() only outer
    assert clock.seconds["inner"] == 3
    assert clock.seconds["outer"] == 7


def test_clustering_values_are_converted_to_the_network_grid():
    sim = get_preset("Fluo-N2DH-SIM+")
    assert clustering_on_grid(sim, (256, 256)) == (100, 0.001, 4)
    m_pts, c, max_step = clustering_on_grid(sim, (518, 471))
    assert (m_pts, max_step) == (372, 7) and c == pytest.approx(
        0.001 / 1.9295, rel=1e-4
    )  # the grid 1.9295 times as fine


def test_the_smallest_cell_area_is_scaled_to_the_network_grid():
    assert area_on_grid(1000, (1024, 1024), (256, 256)) == 62.5
    assert area_on_grid(1000, (512, 1024), (384, 384)) == 281.25


def test_the_border_band_is_scaled_to_the_network_grid():
    assert border_band(PRESET, (512, 1024), (256, 256)) == (25.0, 12.5)
    assert border_band(PRESET, (512, 1024), (384, 768)) == (37.5, 37.5)


def test_synthetic_embeddings_become_a_valid_result_at_the_original_size(ctc_data, tmp_path):
    sequence = ctc_data / "DIC-C2DH-HeLa" / "01"
    frames = list(synthetic_sequence(sequence, range(27, 33)))
    events = []
    result = track_pairs(
        overlapping_pairs(embeddings for _, embeddings in frames), (512, 512), PRESET, tmp_path / "01_RES", 3,
        progress=lambda phase, done, total: events.append((phase, done, total)), total=len(frames),
    )  # fmt: skip
    assert validate_result(tmp_path / "01_RES").ok
    assert read_labels(tmp_path / "01_RES" / "mask005.tif").shape == (512, 512)
    assert result.frames == 6 and set(result.seconds) == set(STAGES)
    assert result.tracks == read_tracks(tmp_path / "01_RES" / "res_track.txt")
    assert result.clustering_peak_memory_mib is None  # no clustering process
    assert result.divisions == 1  # track 1 divides into 3 and 4 at frame 30 (29 here: frames start at 27)
    truth_objects = sum(len(np.unique(labels[labels > 0])) for labels, _ in frames)
    assert abs(result.objects - truth_objects) <= 3  # objects inside the border band are dropped
    assert events[0] == ("track", 1, 6) and events[-1] == ("write", 6, 6)


def test_a_preset_that_trims_masks_to_the_signal_reads_the_raw_frames_again(ctc_data, tmp_path):
    sequence = ctc_data / "DIC-C2DH-HeLa" / "01"
    frames = list(synthetic_sequence(sequence, range(27, 31)))
    pairs = list(overlapping_pairs(embeddings for _, embeddings in frames))
    trimming = replace(PRESET, signal_sigmas=1.0)
    with pytest.raises(ValueError, match="signal_sigmas"):
        track_pairs(pairs, (512, 512), trimming, tmp_path / "refused", 3)
    assert not (tmp_path / "refused").exists()
    raw = [read_frame(path) for path in list_frames(sequence)[27:31]]
    track_pairs(pairs, (512, 512), PRESET, tmp_path / "whole", 3)
    track_pairs(pairs, (512, 512), trimming, tmp_path / "trimmed", 3, images=lambda: iter(raw))
    assert validate_result(tmp_path / "trimmed").ok
    for index in range(4):
        whole = read_labels(tmp_path / "whole" / f"mask00{index}.tif")
        trimmed = read_labels(tmp_path / "trimmed" / f"mask00{index}.tif")
        assert np.count_nonzero(trimmed) < np.count_nonzero(whole)
        assert not (trimmed[whole == 0]).any()  # only taken away, never added


def test_objects_lost_in_upsampling_are_reconciled_while_each_mask_is_written_once(tmp_path, tiff_writes):
    """Cell 1 shrinks to a dot in frame 1 and cell 2 in frame 2, before dividing: upsampling loses both
    dots, so 1 continues under a new label after its gap and 2 ends a frame early, still the mother."""
    stack = np.zeros((4, 32, 32), np.int32)
    stack[:, 4:12, 4:12] = 1
    stack[1, 4:12, 4:12] = 0
    stack[1, 8, 8] = 1
    stack[:2, 18:28, 18:28] = 2
    stack[2, 22, 22] = 2
    stack[3, 18:28, 18:22], stack[3, 18:28, 23:28] = 3, 4
    tracks = [Track(1, 0, 3, 0), Track(2, 0, 2, 0), Track(3, 3, 3, 2), Track(4, 3, 3, 2)]
    with SubmissionWriter(tmp_path / "01_RES", 3) as writer:
        result, objects = write_tracked(stack, tracks, (64, 64), PRESET, writer, StageClock(), lambda *_: None)
        assert writer.commit(result).ok
    assert tiff_writes == [f"mask00{index}.tif.part" for index in range(4)]
    assert result == [Track(1, 0, 0, 0), Track(2, 0, 1, 0), Track(3, 3, 3, 2), Track(4, 3, 3, 2), Track(5, 2, 3, 1)]
    assert objects == 7
    masks = [read_labels(tmp_path / "01_RES" / f"mask00{index}.tif") for index in range(4)]
    assert [sorted(np.unique(mask[mask > 0]).tolist()) for mask in masks] == [[1, 2], [2], [5], [3, 4, 5]]


def test_cells_the_network_missed_join_the_grid_frames_under_labels_of_their_own_linked_by_overlap():
    """Cell 1 is in every merged frame; a second bright square, which no object covers, moves a pixel a
    frame for three frames and is gone in the fourth: one new label, above every merged and lookahead
    label, for those three frames; the lineage then makes her one parentless track."""
    rng = np.random.default_rng(0)
    images = [100 + 5 * rng.standard_normal((64, 64)) for _ in range(4)]
    merged = [np.zeros((32, 32), np.int32) for _ in range(4)]
    for index, (image, frame) in enumerate(zip(images, merged)):
        frame[4:12, 4:12] = 1
        image[8:24, 8:24] += 80
        if index < 3:
            image[40:56, 36 + index : 52 + index] += 80
    found = replace(PRESET, border=0, signal_object_sigmas=3.0, min_cell_area=100)
    signal_on_grid(merged, [np.full((32, 32), 6, np.int32)], iter(images), found)
    assert all((frame[21:27, 21:25] == 7).all() for frame in merged[:3]) and set(np.unique(merged[3])) == {0, 1}
    assert all(set(np.unique(frame)) == {0, 1, 7} for frame in merged[:3])
    assert all((frame[4:12, 4:12] == 1).all() for frame in merged)


def test_an_object_whose_trimmed_mask_never_reaches_a_cell_s_area_leaves_the_grid_frames():
    """Object 2 sits on a dim speck: trimmed to the signal it keeps a few pixels in every frame, below
    min_cell_area, and goes from every frame; object 1, over a bright cell, stays."""
    rng = np.random.default_rng(1)
    images = [100 + 5 * rng.standard_normal((64, 64)) for _ in range(3)]
    for image in images:
        image[8:24, 8:24] += 80
        image[44:47, 44:47] += 80

    def frames() -> list[np.ndarray]:
        merged = [np.zeros((32, 32), np.int32) for _ in range(3)]
        for frame in merged:
            frame[4:12, 4:12], frame[20:26, 20:26] = 1, 2
        return merged

    trimming = replace(PRESET, signal_sigmas=2.0, min_cell_area=100)
    merged = frames()
    signal_on_grid(merged, [], iter(images), trimming)
    assert all(set(np.unique(frame)) == {0, 1} for frame in merged)
    merged = frames()
    signal_on_grid(merged, [], iter(images), replace(trimming, min_cell_area=0))
    assert all(set(np.unique(frame)) == {0, 1, 2} for frame in merged)  # no floor: only trimming, at writing


def test_an_object_never_as_bright_as_a_cell_leaves_the_grid_frames_whether_the_network_or_the_signal_found_it():
    """Object 1 covers a bright cell (over 150 noise sigmas up), object 2 a dim process (7-9 sigmas, 14
    in frame 1); a dim region no object covers (11-13 sigmas) becomes a signal cell, label 3. With
    min_cell_sigmas 20 the process and the signal cell go from every frame; at 13.5 the process,
    bright enough in frame 1, stays in all three; at 0 (off) everything stays."""
    rng = np.random.default_rng(2)
    images = [100 + 5 * rng.standard_normal((96, 96)) for _ in range(3)]
    for index, image in enumerate(images):
        image[8:24, 8:24] += 150  # the cell
        image[40:56, 8:24] += 12 if index == 1 else 8  # the process, brightest in frame 1
        image[64:80, 60:76] += 10  # a dim region beside every object

    def frames() -> list[np.ndarray]:
        merged = [np.zeros((48, 48), np.int32) for _ in range(3)]
        for frame in merged:
            frame[4:12, 4:12], frame[20:28, 4:12] = 1, 2
        return merged

    preset = replace(PRESET, border=0, signal_sigmas=2.0, signal_object_sigmas=3.0, min_cell_area=100)
    merged = frames()
    signal_on_grid(merged, [], iter(images), replace(preset, min_cell_sigmas=20.0))
    assert all(set(np.unique(frame)) == {0, 1} for frame in merged)
    merged = frames()
    signal_on_grid(merged, [], iter(images), replace(preset, min_cell_sigmas=13.5))
    assert all(set(np.unique(frame)) == {0, 1, 2} for frame in merged)
    merged = frames()
    signal_on_grid(merged, [], iter(images), preset)
    assert all(set(np.unique(frame)) == {0, 1, 2, 3} for frame in merged)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return load(save_tiny_model(tmp_path_factory.mktemp("model") / "tiny.pt", PRESET.name), device="cpu")


@pytest.fixture()
def three_frames(ctc_data, tmp_path):
    return copy_first_frames(ctc_data / "DIC-C2DH-HeLa", tmp_path / "DIC-C2DH-HeLa", "01", 3, with_gt=False)


def test_a_raw_sequence_runs_through_the_network_into_a_valid_result(tiny_model, three_frames):
    output = three_frames.with_name("01_RES")
    result = run_pipeline(three_frames, output, tiny_model)
    assert validate_result(output).ok
    assert result.frames == 3 and result.shape == (512, 512)
    assert all(result.seconds[stage] >= 0 for stage in STAGES) and result.seconds["network"] > 0


def test_frames_of_different_sizes_are_an_input_error_and_nothing_is_written(tiny_model, three_frames):
    write_mask(three_frames / "t001.tif", np.zeros((10, 10), dtype=np.uint16))
    with pytest.raises(CTCInputError, match="t001.tif: size 10x10 differs"):
        run_pipeline(three_frames, three_frames.with_name("01_RES"), tiny_model)
    assert sorted(path.name for path in three_frames.parent.iterdir()) == ["01"]


def test_frames_must_be_numbered_from_zero(tiny_model, three_frames):
    (three_frames / "t000.tif").unlink()
    with pytest.raises(CTCInputError, match="numbered from 0"):
        run_pipeline(three_frames, three_frames.with_name("01_RES"), tiny_model)


def test_pairs_clustered_in_worker_processes_come_back_in_order_and_unchanged_with_the_workers_own_peak(ctc_data):
    embeddings = [embedding for _, embedding in synthetic_sequence(ctc_data / "DIC-C2DH-HeLa" / "01", range(29, 33))]
    pairs = list(overlapping_pairs(embeddings))
    here, there = ClusteringUsage(), ClusteringUsage()
    serial = list(cluster_pairs(pairs, PRESET, "fast", usage=here))
    held = np.ones(HELD_MIB * 2**20, dtype=np.uint8)  # resident in this process as the workers start
    parallel = list(cluster_pairs(pairs, PRESET, "fast", workers=2, usage=there))
    assert here.seconds > 0 and there.seconds > 0
    assert here.worker_peak_mib is None  # clustered in this process: its peak is this process's
    assert there.worker_peak_mib is not None and 0 < there.worker_peak_mib < HELD_MIB < peak_memory_mib()
    assert held.sum() == held.size
    assert len(parallel) == len(serial) == 3
    for one, other in zip(serial, parallel):
        np.testing.assert_array_equal(one, other)


def test_network_and_clustering_share_the_cores():
    assert core_plan("cpu", cores=2) == CorePlan(network_threads=1, clustering_processes=1, clustering_threads=1)
    assert core_plan("cpu", cores=16) == CorePlan(8, 8, 1)
    assert core_plan("cpu", cores=1) == CorePlan(1, 0, 1)
    assert core_plan("cpu", cores=2, network_bound=True) == CorePlan(2, 0, 1)  # tiles: the network takes both
    assert core_plan("cpu", cores=16, network_bound=True) == CorePlan(12, 4, 1)


def test_a_one_frame_sequence_gives_a_one_frame_result(ctc_data, tmp_path):
    ((labels, embeddings),) = synthetic_sequence(ctc_data / "DIC-C2DH-HeLa" / "01", range(40, 41))
    result = track_pairs(overlapping_pairs([embeddings]), (512, 512), PRESET, tmp_path / "01_RES", 3)
    assert validate_result(tmp_path / "01_RES").ok
    assert result.frames == 1 and all(track.begin == track.end == 0 for track in result.tracks)
    assert abs(len(result.tracks) - len(np.unique(labels[labels > 0]))) <= 1


def test_prefetched_keeps_the_order_and_raises_the_producers_error_where_it_happened():
    assert list(prefetched(iter(range(7)), depth=2)) == list(range(7))

    def failing():
        yield 1
        raise CTCInputError("frame 2 is broken")

    stream = prefetched(failing())
    assert next(stream) == 1
    with pytest.raises(CTCInputError, match="frame 2"):
        next(stream)


def test_a_prefetch_abandoned_early_stops_its_producer():
    produced = []

    def source():
        for item in range(100):
            produced.append(item)
            yield item

    stream = prefetched(source(), depth=1)
    assert next(stream) == 0
    stream.close()
    assert len(produced) <= 3


def test_core_plans_leave_no_core_idle_and_none_oversubscribed():
    for cores in range(1, 17):
        for network_bound in (False, True):
            plan = core_plan("cpu", cores=cores, network_bound=network_bound)
            assert plan.network_threads + plan.clustering_processes * plan.clustering_threads == cores or cores == 1


def test_a_blank_frame_gets_no_ghosts_of_the_cells_before_it(ctc_data):
    """The recurrent network's output for a blank frame is its memory of the frame before: embeddings
    of the earlier cells where they were. Clustered, they came out as objects (the shipped model on
    DIC-HeLa 01 frames 0-3 with frame 2 blanked: 2 spurious objects); a blank frame must get none."""
    embeddings = [embedding for _, embedding in synthetic_sequence(ctc_data / "DIC-C2DH-HeLa" / "01", range(29, 31))]
    ghost = embeddings[1]  # the blank frame: the memory of frame 1, as the network would give it
    pairs = list(overlapping_pairs([*embeddings, ghost]))
    remembered = list(cluster_pairs(pairs, PRESET, "fast"))
    assert remembered[1][1].any(), "the ghosts would be found without the blank flag"
    blank = [False, False, True]
    labelled = list(cluster_pairs(pairs, PRESET, "fast", blank=blank))
    assert not labelled[1][1].any() and labelled[1][0].any()
    np.testing.assert_array_equal(labelled[0], remembered[0])


def test_a_run_on_blank_frames_says_so(ctc_data, tmp_path):
    import tifffile

    sequence = copy_first_frames(ctc_data / "DIC-C2DH-HeLa", tmp_path / "DIC-C2DH-HeLa", "01", 2, with_gt=False)
    for index in range(2):
        tifffile.imwrite(sequence / f"t{index:03d}.tif", np.full((64, 48), 7, np.uint8))
    model = load(save_tiny_model(tmp_path / "tiny.pt", "DIC-C2DH-HeLa"), device="cpu")
    result = run_pipeline(sequence, tmp_path / "01_RES", model)
    assert result.objects == 0 and result.frames == 2
    assert result.input_warnings == [
        "2 blank frame(s) (a single value, no image), left without objects: t000.tif, t001.tif"
    ]


def test_non_finite_embeddings_are_refused():
    pair = np.zeros((2, 16, 8, 8), np.float32)
    pair[1, 0, 3, 3] = np.nan
    with pytest.raises(CTCInputError, match="frame 1: the network gave NaN or infinite embeddings"):
        list(cluster_pairs([pair], PRESET, "fast"))


def files(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.slow
def test_a_whole_frame_preset_gives_the_result_of_the_network_run_on_whole_256_frames(three_frames):
    """Byte for byte what the pipeline wrote before tiled inference: each frame resized to 256x256,
    through the network whole, the state carried, clustered with the preset's own m_pts and c."""
    model = load("DIC-C2DH-HeLa", device="cpu")
    preset = model.preset
    raw = [read_frame(path) for path in list_frames(three_frames)]
    state, embeddings = None, []
    with torch.inference_mode():
        for frame in raw:
            image = normalize_frame(frame, preset, NETWORK_SIZE)
            tensor = torch.from_numpy(image)[None, None].contiguous(memory_format=torch.channels_last)
            _, embedding, state = model.network(tensor, state)
            embeddings.append(torch.nn.functional.normalize(embedding.float(), dim=1)[0].numpy())
    before = track_pairs(overlapping_pairs(embeddings), raw[0].shape, preset, three_frames.with_name("before"), 3)
    after = run_pipeline(three_frames, three_frames.with_name("after"), model, precision="fp32")
    assert before.objects == after.objects > 0
    assert files(three_frames.with_name("after")) == files(three_frames.with_name("before"))


@pytest.mark.slow
def test_a_tiled_preset_runs_the_network_on_the_scaled_grid_and_writes_masks_of_the_frame_size(
    ctc_data, tmp_path, monkeypatch
):
    sequence = copy_first_frames(ctc_data / "Fluo-N2DH-SIM+", tmp_path / "Fluo-N2DH-SIM+", "01", 2, with_gt=False)
    model = load(save_tiny_model(tmp_path / "tiny.pt", "Fluo-N2DH-SIM+"), device="cpu")
    assert model.preset.network_scale == 0.75
    grids = []

    def noting_grids(pairs, *arguments, **options):
        def noted():
            for pair in pairs:
                grids.append(pair.shape)
                yield pair

        return track_pairs(noted(), *arguments, **options)

    monkeypatch.setattr(pipeline, "track_pairs", noting_grids)
    result = run_pipeline(sequence, tmp_path / "01_RES", model, precision="fp32")
    assert grids == [(2, 16, 518, 471)]  # 690x628 frames at 0.75
    assert validate_result(tmp_path / "01_RES").ok and result.shape == (690, 628)
    assert read_labels(tmp_path / "01_RES" / "mask001.tif").shape == (690, 628)


def test_clustering_on_a_finer_grid_finds_the_same_objects_with_m_pts_and_c_converted(ctc_data):
    frames = list(synthetic_sequence(ctc_data / "DIC-C2DH-HeLa" / "01", range(28, 31)))
    pairs = list(overlapping_pairs(embeddings for _, embeddings in frames))
    fine = [pair.repeat(2, axis=2).repeat(2, axis=3) for pair in pairs]  # a 512x512 grid of the same frames
    coarse_labels = list(cluster_pairs(pairs, PRESET, "fast"))
    fine_labels = list(cluster_pairs(fine, PRESET, "fast"))
    for coarse, labels in zip(coarse_labels, fine_labels):
        assert labels.shape == (2, 512, 512)
        truths, _, ious = overlap(coarse, labels[:, ::2, ::2]).labelled_ious()
        matched = set(truths[ious > 0.8].tolist())
        assert len(matched) >= 0.9 * len(np.unique(coarse[coarse > 0]))
