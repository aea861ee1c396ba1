import csv
import json

import numpy as np
import torch
from click.testing import CliRunner

from ctc_submit.cli import main
from ctc_submit.model.inference import load_model
from ctc_submit.model.network import NetworkConfig
from ctc_submit.presets import get_preset
from ctc_submit.training.data import TrainingSequence, ids_from_markers
from ctc_submit.training.trainer import TrainingConfig, train, validation_loss


def test_segments_take_the_id_of_their_marker():
    segmentation = np.array([[1, 1, 0, 2, 2], [1, 1, 0, 2, 2]])
    markers = np.array([[0, 7, 0, 0, 0], [0, 0, 0, 0, 0]])
    relabelled = ids_from_markers(segmentation, markers)
    assert (relabelled[:, :2] == 7).all()
    assert relabelled[0, 3] not in (0, 7) and (relabelled[:, 3:] == relabelled[0, 3]).all()


def test_twenty_steps_on_real_frames_lower_the_loss(ctc_data, tmp_path):
    preset = get_preset("DIC-C2DH-HeLa")
    frames = TrainingSequence.load(ctc_data / "DIC-C2DH-HeLa", "01", preset.low_percentile, preset.high_percentile, limit=6)
    config = TrainingConfig(
        iterations=20, clip_length=2, crop_size=64, learning_rate=2e-3, validation_frames=2,
        validate_every=20, checkpoint_every=20, network=NetworkConfig(filters=8, levels=4),
    )
    held_out = TrainingSequence(frames.images[:2], frames.labels[:2])
    torch.manual_seed(config.seed)
    from ctc_submit.model.network import StackedHourglass

    before = validation_loss(StackedHourglass(config.network), held_out, preset, config, torch.device("cpu"))
    card = train([frames], held_out, preset, config, tmp_path / "m.pt", {"dataset": preset.name}, device="cpu")
    assert card["final_validation_loss"] < before
    network, loaded_card = load_model(tmp_path / "m.pt", "cpu")
    assert loaded_card["iterations_done"] == 20


def test_train_command_writes_model_card_curve_and_resumes(ctc_data, tmp_path):
    out = tmp_path / "models" / "tiny.pt"
    arguments = [
        "train", "--dataset", "DIC-C2DH-HeLa", "--data", str(ctc_data / "DIC-C2DH-HeLa"), "--out", str(out),
        "--clip-length", "2", "--filters", "4", "--levels", "3", "--max-frames", "5", "--validation-frames", "2",
        "--validate-every", "2", "--checkpoint-every", "2",
    ]
    first = CliRunner().invoke(main, [*arguments, "--iterations", "2", "--crop-size", "32", "--recurrent-window", "8,2"])
    assert first.exit_code == 0, first.output
    resumed = CliRunner().invoke(main, [*arguments, "--iterations", "4", "--crop-size", "64", "--recurrent-window", "8,2", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    with open(out.with_name("tiny_loss.csv")) as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["iteration"]) for row in rows] == [1, 2, 3, 4]
    assert out.with_name("tiny_loss.png").stat().st_size > 1000
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["recurrent_window"] == {"hop": 8, "warmup": 2}
    assert [(phase["from_iteration"], phase["crop_size"]) for phase in card["phases"]] == [(0, 32), (2, 64)]


def test_train_command_rejects_an_unknown_dataset(tmp_path):
    result = CliRunner().invoke(main, ["train", "--dataset", "Nope", "--data", str(tmp_path), "--out", str(tmp_path / "m.pt")])
    assert result.exit_code == 2 and "known:" in result.output
