import csv
import json

import numpy as np
import pytest
import tifffile
import torch
from click.testing import CliRunner

from ctc_submit.cli import main
from ctc_submit.io import CTCInputError
from ctc_submit.model.inference import load_model, save_model
from ctc_submit.model.network import NetworkConfig, StackedHourglass
from ctc_submit.normalize import resize_linear
from ctc_submit.presets import get_preset
from ctc_submit.training.data import (
    CellReach,
    TrainingSequence,
    ids_from_markers,
    labels_of_frame,
    load_training_labels,
    sample_clip,
)
from ctc_submit.training.loss import IGNORE
from ctc_submit.training.ranges import NO_AUGMENTATION
from ctc_submit.training.trainer import TimeBudget, TrainingConfig, train
from ctc_submit.training.validation import HeldOutBlock, lay_out_block

PRESET = get_preset("DIC-C2DH-HeLa")
TINY = NetworkConfig(filters=4, levels=3)


@pytest.fixture(scope="module")
def frames(ctc_data):
    return TrainingSequence.load(ctc_data / "DIC-C2DH-HeLa", "01", PRESET, limit=5)


def test_segments_take_the_id_of_their_marker():
    segmentation = np.array([[1, 1, 0, 2, 2], [1, 1, 0, 2, 2]])
    markers = np.array([[0, 7, 0, 0, 0], [0, 0, 0, 0, 0]])
    relabelled = ids_from_markers(segmentation, markers)
    assert (relabelled[:, :2] == 7).all()
    assert relabelled[0, 3] not in (0, 7) and (relabelled[:, 3:] == relabelled[0, 3]).all()


def test_a_segmentation_that_misses_a_marked_cell_teaches_no_background():
    """GOWT1's gold segmentations cover 1-3 of 23 nuclei: the others must not be learnt as background."""
    segmentation = np.array([[1, 1, 0, 0, 0], [1, 1, 0, 0, 0]])
    markers = np.array([[0, 7, 0, 0, 0], [0, 0, 0, 8, 0]])
    partial = labels_of_frame(segmentation, markers)
    assert (partial[:, :2] == 7).all() and partial[1, 3] == 8
    assert (partial[:, 2:] != 0).all() and partial[0, 3] == IGNORE
    complete = labels_of_frame(segmentation, np.where(markers == 8, 0, markers))
    assert (complete[:, 2:] == 0).all()
    assert (labels_of_frame(None, markers)[:, 2] == IGNORE).all()


def test_far_from_every_marked_cell_is_background_even_where_the_segmentation_is_partial():
    segmentation = np.zeros((1, 12), np.int64)
    segmentation[0, :3] = 1
    markers = np.zeros((1, 12), np.int64)
    markers[0, 0], markers[0, 6] = 7, 8
    reach = CellReach.of([(segmentation, markers)])
    assert reach.at(0, [7, 8]) == {7: 2, 8: 2}  # the segment reaches two pixels beyond its marker; 8 takes the largest
    labels = labels_of_frame(segmentation, markers, reach.at(0, [7, 8]))
    assert labels[0].tolist() == [7, 7, 7, 0, IGNORE, IGNORE, 8, IGNORE, IGNORE, 0, 0, 0]
    assert labels_of_frame(None, markers, 2)[0].tolist()[-3:] == [0, 0, 0]
    assert CellReach.of([]).at(0, [7]) == {7: np.inf}


def test_a_cell_between_segmented_frames_reaches_as_far_as_in_the_nearer_ones_on_either_side():
    markers = np.zeros((1, 20), np.int64)
    markers[0, 0], markers[0, 15] = 7, 8
    small, large = np.zeros_like(markers), np.zeros_like(markers)
    small[0, :2], large[0, :6] = 1, 1
    small[0, 15:17] = large[0, 15:17] = 2
    reach = CellReach.of([(small, markers), (None, markers), (large, markers), (None, markers), (small, markers)])
    assert [reach.at(frame, [7])[7] for frame in range(5)] == [1, 5, 5, 5, 1]
    labels = labels_of_frame(None, markers, reach.at(1, [7, 8]))
    assert labels[0].tolist()[:7] == [7, *[IGNORE] * 5, 0]  # cell 7 may reach 5 pixels here
    assert labels[0].tolist()[13:] == [0, IGNORE, 8, IGNORE, 0, 0, 0]  # cell 8 only 1


def test_a_complete_silver_truth_stands_in_for_a_partial_gold_segmentation(tmp_path):
    cells = np.array([[1, 1, 0, 2, 2]], np.uint16)
    for folder, image in [
        ("01_GT/TRA", "man_track000.tif"),
        ("01_GT/SEG", "man_seg000.tif"),
        ("01_ST/SEG", "man_seg000.tif"),
    ]:
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(tmp_path / folder / image, np.where(cells == 2, 0, cells) if folder == "01_GT/SEG" else cells)
    (labels,) = load_training_labels(tmp_path, "01", 1, 3)
    assert labels[0].tolist() == [1, 1, 0, 2, 2]


def test_clips_are_drawn_in_proportion_to_the_clips_a_run_holds():
    short = TrainingSequence(np.zeros((3, 8, 8), np.float32), np.zeros((3, 8, 8), np.int64))
    long = TrainingSequence(np.ones((12, 8, 8), np.float32), np.zeros((12, 8, 8), np.int64))
    rng = np.random.default_rng(0)
    drawn = [sample_clip([short, long], 2, 0.0, (8, 8), NO_AUGMENTATION, rng)[0].mean() > 0.5 for _ in range(400)]
    assert 0.8 < np.mean(drawn) < 0.9  # 11 of the 13 possible clips lie in the long run
    with pytest.raises(CTCInputError, match="longer than every training sequence"):
        sample_clip([short], 4, 0.0, (8, 8), NO_AUGMENTATION, rng)


def test_training_clips_are_crops_of_the_frames_at_the_presets_scale(ctc_data):
    """SIM+ is tracked at 0.75 (its 690x628 frames on a 518x471 grid): training must show cells at that size."""
    preset = get_preset("Fluo-N2DH-SIM+")
    sequence = TrainingSequence.load(ctc_data / "Fluo-N2DH-SIM+", "01", preset, limit=2)
    rng = np.random.default_rng(0)
    images, labels = sample_clip([sequence], 2, preset.network_scale, (518, 471), NO_AUGMENTATION, rng)
    expected = resize_linear(sequence.images[1], (518, 471))
    np.testing.assert_allclose(images[1, 1:-1, 1:-1], expected[1:-1, 1:-1], atol=1e-4)
    cells = (labels[0] > 0).sum() / (sequence.labels[0] > 0).sum()
    assert abs(cells - 0.75**2) < 0.01
    crop, crop_labels = sample_clip([sequence], 2, preset.network_scale, (256, 256), NO_AUGMENTATION, rng)
    assert crop.shape == crop_labels.shape == (2, 256, 256)


def test_twenty_steps_on_real_frames_lower_the_training_loss(frames, tmp_path):
    config = TrainingConfig(iterations=20, clip_length=2, crop_size=64, learning_rate=2e-3, checkpoint_every=20,
                            network=NetworkConfig(filters=8, levels=4))  # fmt: skip
    card = train([frames], None, PRESET, config, tmp_path / "m.pt", {"dataset": PRESET.name}, device="cpu")
    with open(tmp_path / "m_loss.csv") as handle:
        losses = [float(row["train_loss"]) for row in csv.DictReader(handle)]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    _, loaded_card = load_model(tmp_path / "m.pt", "cpu")
    assert loaded_card["iterations_done"] == card["iterations_done"] == 20


def weights(path):
    return torch.load(path, weights_only=False)["network"]


def test_a_run_stopped_and_resumed_equals_a_straight_run(frames, tmp_path):
    """N straight iterations = N/2, a stop with a checkpoint, a resume in a fresh call, N/2 more."""
    config = TrainingConfig(iterations=6, clip_length=2, crop_size=32, learning_rate=1e-3, learning_rate_drop_at=0.5,
                            checkpoint_every=100, network=TINY)  # fmt: skip
    train([frames], None, PRESET, config, tmp_path / "straight.pt", {}, device="cpu")
    train([frames], None, PRESET, config, tmp_path / "split.pt", {}, device="cpu", stop=lambda done: done == 3)
    assert torch.load(tmp_path / "split.ckpt", weights_only=False)["iteration"] == 3
    train([frames], None, PRESET, config, tmp_path / "split.pt", {}, device="cpu", resume=True)
    straight, split = weights(tmp_path / "straight.ckpt"), weights(tmp_path / "split.ckpt")
    for name in straight:
        torch.testing.assert_close(split[name], straight[name], rtol=1e-5, atol=1e-6)
    with open(tmp_path / "split_loss.csv") as first, open(tmp_path / "straight_loss.csv") as second:
        assert [row["train_loss"] for row in csv.DictReader(first)] == [
            row["train_loss"] for row in csv.DictReader(second)
        ]


def test_a_time_budget_stops_before_the_next_iteration_would_overrun():
    now = [0.0]
    budget = TimeBudget(10.0, clock=lambda: now[0])
    now[0] = 2.0  # iteration 1 took 2 s: 2 + 2*2 < 10
    assert not budget(1)
    now[0] = 5.0  # iteration 2 took 3 s: 5 + 2*3 > 10
    assert budget(2)


def test_init_from_starts_from_the_models_weights_and_says_so_in_the_card(frames, tmp_path):
    torch.manual_seed(5)
    save_model(tmp_path / "start.pt", StackedHourglass(TINY), {"dataset": PRESET.name, "iterations_done": 7})
    start, _ = load_model(tmp_path / "start.pt", "cpu")
    config = TrainingConfig(iterations=1, clip_length=2, crop_size=32, learning_rate=1e-12, network=TINY)
    card = train(
        [frames], None, PRESET, config, tmp_path / "tuned.pt", {}, device="cpu", init_from=tmp_path / "start.pt"
    )
    tuned, _ = load_model(tmp_path / "tuned.pt", "cpu")
    for name, tensor in start.state_dict().items():
        torch.testing.assert_close(tuned.state_dict()[name], tensor, atol=1e-3, rtol=1e-3)
    assert (
        card["phases"][0]["init_from"]["model"] == "start.pt" and card["phases"][0]["init_from"]["iterations_done"] == 7
    )
    other = TrainingConfig(iterations=1, clip_length=2, crop_size=32, network=NetworkConfig(filters=8, levels=3))
    with pytest.raises(CTCInputError, match="differs from the one to train"):
        train([frames], None, PRESET, other, tmp_path / "x.pt", {}, device="cpu", init_from=tmp_path / "start.pt")


def test_init_from_a_model_with_more_grus_drops_those_of_the_stateless_levels(frames, tmp_path):
    torch.manual_seed(6)
    save_model(tmp_path / "start.pt", StackedHourglass(TINY), {"dataset": PRESET.name, "iterations_done": 3})
    start, _ = load_model(tmp_path / "start.pt", "cpu")
    cheaper = NetworkConfig(filters=4, levels=3, stateless_levels=1)
    config = TrainingConfig(iterations=1, clip_length=2, crop_size=32, learning_rate=1e-12, network=cheaper)
    card = train(
        [frames], None, PRESET, config, tmp_path / "cheaper.pt", {}, device="cpu", init_from=tmp_path / "start.pt"
    )
    tuned, _ = load_model(tmp_path / "cheaper.pt", "cpu")
    assert tuned.config == cheaper
    for name, tensor in tuned.state_dict().items():
        torch.testing.assert_close(tensor, start.state_dict()[name], atol=1e-3, rtol=1e-3)
    assert card["phases"][0]["init_from"]["recurrent_levels_dropped"] == [0]
    back = TrainingConfig(iterations=1, clip_length=2, crop_size=32, network=TINY)
    with pytest.raises(CTCInputError, match="differs from the one to train"):
        train([frames], None, PRESET, back, tmp_path / "x.pt", {}, device="cpu", init_from=tmp_path / "cheaper.pt")


def command(data, out, *extra):
    return [
        "train", "--dataset", "DIC-C2DH-HeLa", "--data", str(data), "--out", str(out), "--clip-length", "2",
        "--filters", "4", "--levels", "3", "--crop-size", "32", "--max-frames", "12", "--held-out", "5-8",
        "--held-out-margin", "1", "--validation-c", "0.02", "--validate-every", "2", "--checkpoint-every", "2", *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_train_command_validates_by_the_pipeline_score_keeps_the_best_and_resumes(ctc_data, tmp_path):
    out = tmp_path / "models" / "tiny.pt"
    data = ctc_data / "DIC-C2DH-HeLa"
    first = CliRunner().invoke(main, command(data, out, "--iterations", "2", "--recurrent-window", "8,2"))
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(main, command(data, out, "--iterations", "2"))
    assert again.exit_code == 2 and "already exists" in again.output
    changed = ["--iterations", "4", "--crop-size", "64", "--neighbour-weighting", "instances"]
    resumed = CliRunner().invoke(main, command(data, out, *changed, "--recurrent-window", "8,2", "--resume"))
    assert resumed.exit_code == 0, resumed.output
    with open(out.with_name("tiny_loss.csv")) as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["iteration"]) for row in rows] == [1, 2, 3, 4]
    assert all(0 <= float(rows[index][name]) <= 1 for index in (1, 3) for name in ("SEG", "SEG_ST", "TRA", "DET"))
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["recurrent_window"] == {"hop": 8, "warmup": 2}
    phases = [(phase["from_iteration"], phase["crop_size"], phase["neighbour_weighting"]) for phase in card["phases"]]
    assert phases == [(0, 32, "pixels"), (2, 64, "instances")]
    assert card["training"]["neighbour_weighting"] == "instances"
    assert [score["iteration"] for score in card["validation_scores"]] == [2, 4]
    best = max(card["validation_scores"], key=lambda score: score["score"])
    assert card["chosen_checkpoint"]["iteration"] == best["iteration"] and card["preset_overrides"]["c"] == 0.02
    assert "5-8" in card["validation"] and card["training_frames"] == ["01: 0-3", "01: 10-11"]
    _, shipped_card = load_model(out, "cpu")
    assert shipped_card["chosen_checkpoint"] == card["chosen_checkpoint"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--iterations", "0"], "--iterations"),
        (["--clip-length", "0"], "--clip-length"),
        (["--crop-size", "-4"], "--crop-size"),
        (["--crop-size", "30"], "must divide by 4"),
        (["--levels", "0"], "--levels"),
        (["--learning-rate", "nan"], "--learning-rate nan"),
        (["--device", "tpu"], "--device"),
        (["--held-out", "40-21"], "FIRST < LAST"),
        (["--validation-c", "abc"], "--validation-c"),
        (["--clip-length", "30"], "longer than every run of training frames"),
        (["--resume"], "no checkpoint to resume from"),
        (["--network-scale", "9"], "--network-scale"),
    ],
)
def test_bad_train_options_are_one_line_before_any_work(ctc_data, tmp_path, options, message):
    result = CliRunner().invoke(
        main, [*command(ctc_data / "DIC-C2DH-HeLa", tmp_path / "m.pt"), "--iterations", "1", *options]
    )
    assert result.exit_code == 2 and message in result.output, result.output
    assert result.output.strip().count("\n") <= 3 and "Traceback" not in result.output
    assert not (tmp_path / "m.pt").exists()


def test_train_command_rejects_an_unknown_dataset(tmp_path):
    result = CliRunner().invoke(
        main, ["train", "--dataset", "Nope", "--data", str(tmp_path), "--out", str(tmp_path / "m.pt")]
    )
    assert result.exit_code == 2 and "known:" in result.output


@pytest.mark.slow
def test_a_signal_stops_training_after_the_iteration_with_a_checkpoint_that_resumes(ctc_data, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "m.pt"
    arguments = command(
        ctc_data / "DIC-C2DH-HeLa", out, "--iterations", "500", "--held-out", "none", "--log-every", "1"
    )
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("ctc-submit")), *arguments], stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    for line in process.stderr:
        if line.startswith("[1/500]"):
            process.send_signal(signal.SIGTERM)
            break
    remaining = process.stderr.read()
    assert process.wait(timeout=120) == 128 + signal.SIGTERM, remaining
    assert "Stopped by SIGTERM; continue with --resume" in remaining and "Traceback" not in remaining
    done = torch.load(out.with_suffix(".ckpt"), weights_only=False)["iteration"]
    assert 1 <= done < 500
    resumed = CliRunner().invoke(
        main, command(ctc_data / "DIC-C2DH-HeLa", out, "--iterations", str(done + 1), "--held-out", "none", "--resume")
    )
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(out.with_suffix(".json").read_text())["iterations_done"] == done + 1


def test_a_dataset_without_silver_truth_is_validated_against_its_gold_on_every_frame(ctc_data, tmp_path):
    """Fluo-N2DH-SIM+ is simulated: its gold segmentation covers every frame and it has no silver truth."""
    _, silver = lay_out_block(ctc_data / "Fluo-N2DH-SIM+", "01", HeldOutBlock(21, 23), tmp_path)
    linked = sorted((silver / "01_GT" / "SEG").iterdir())
    assert [path.name for path in linked] == ["man_seg000.tif", "man_seg001.tif", "man_seg002.tif"]
    assert linked[0].resolve() == (ctc_data / "Fluo-N2DH-SIM+" / "01_GT" / "SEG" / "man_seg021.tif").resolve()
