"""The Python API and ``ctc-submit run`` go through one model card: same preset, same window, same bytes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner
from ctc_layout import copy_first_frames, save_tiny_model

import ctc_submit
from ctc_submit.cli import main
from ctc_submit.io import CTCInputError
from ctc_submit.presets import get_preset
from ctc_submit.registry import shipped_folder

DATASET = "DIC-C2DH-HeLa"
FRAMES = 3


def files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def sequence(ctc_data, tmp_path_factory) -> Path:
    return copy_first_frames(ctc_data / DATASET, tmp_path_factory.mktemp("data") / DATASET, "01", FRAMES, with_gt=False)


@pytest.fixture(scope="module")
def shipped() -> ctc_submit.Model:
    return ctc_submit.load("DIC-HeLa", device="cpu")


def test_a_model_loaded_by_name_runs_with_its_cards_values(shipped):
    assert shipped.preset.c == 0.0025 and get_preset(DATASET).c == 0.02
    window = json.loads((shipped_folder() / f"{DATASET}.json").read_text())["recurrent_window"]
    assert window and (shipped.card.recurrent_window.hop, shipped.card.recurrent_window.warmup) == (
        window["hop"],
        window["warmup"],
    )
    assert shipped.preset.name == DATASET


@pytest.mark.slow
def test_the_python_api_and_the_command_write_byte_identical_results(shipped, sequence, tmp_path):
    shipped.track(sequence, tmp_path / "api_RES")
    result = CliRunner().invoke(
        main, ["run", str(sequence), str(tmp_path / "cli_RES"), "--dataset", DATASET, "--device", "cpu"]
    )
    assert result.exit_code == 0, result.output
    api, cli = files(tmp_path / "api_RES"), files(tmp_path / "cli_RES")
    assert sorted(api) == ["mask000.tif", "mask001.tif", "mask002.tif", "res_track.txt"]
    assert api == cli and api["res_track.txt"]


@pytest.mark.slow
def test_a_tiff_stack_and_an_array_give_the_result_of_the_folder(shipped, sequence, tmp_path):
    stack = np.stack([tifffile.imread(sequence / f"t{index:03d}.tif") for index in range(FRAMES)])
    tifffile.imwrite(tmp_path / "01.tif", stack, photometric="minisblack")
    shipped.track(sequence, tmp_path / "folder_RES")
    result = CliRunner().invoke(
        main, ["run", str(tmp_path / "01.tif"), str(tmp_path / "stack_RES"), "--dataset", DATASET, "--device", "cpu"]
    )
    assert result.exit_code == 0, result.output
    shipped.track(stack, tmp_path / "array_RES")
    assert files(tmp_path / "stack_RES") == files(tmp_path / "folder_RES") == files(tmp_path / "array_RES")


def test_the_cards_normalisation_is_read_back(tmp_path):
    path = save_tiny_model(
        tmp_path / "tiny.pt",
        DATASET,
        normalization={"sigma": 2.0, "low_percentile": 5.0, "high_percentile": 1.0, "size": [256, 256]},
    )
    model = ctc_submit.load(path, device="cpu")
    assert (model.preset.low_percentile, model.preset.high_percentile) == (5.0, 1.0)
    assert model.preset.network_scale == 0.0


def test_the_scale_a_model_was_trained_at_wins_over_the_table(tmp_path):
    path = save_tiny_model(
        tmp_path / "tiny.pt", "Fluo-N2DH-SIM+", normalization={"network_scale": 0.5, "size": [256, 256]}
    )
    assert ctc_submit.load(path, device="cpu").preset.network_scale == 0.5
    assert (
        ctc_submit.load(save_tiny_model(tmp_path / "old.pt", "Fluo-N2DH-SIM+"), device="cpu").preset.network_scale
        == 0.75
    )


def test_a_model_trained_on_log_intensities_is_run_on_them_and_one_trained_before_the_option_is_not(tmp_path):
    path = save_tiny_model(tmp_path / "log.pt", DATASET, normalization={"log_intensity": True, "size": [256, 256]})
    assert ctc_submit.load(path, device="cpu").preset.log_intensity
    old = save_tiny_model(tmp_path / "old.pt", DATASET, normalization={"sigma": 2.0, "size": [256, 256]})
    assert not ctc_submit.load(old, device="cpu").preset.log_intensity


def test_a_card_without_a_dataset_needs_one(tmp_path):
    path = save_tiny_model(tmp_path / "anonymous.pt", DATASET)
    assert ctc_submit.load(path, dataset="Fluo-N2DH-SIM+", device="cpu").preset.name == "Fluo-N2DH-SIM+"


@pytest.mark.parametrize("array", [np.zeros((4, 4)), np.zeros((2, 4, 4), np.complex64), np.zeros((0, 4, 4))])
def test_an_array_of_another_shape_or_type_is_refused_saying_what_is_accepted(shipped, array, tmp_path):
    with pytest.raises(
        CTCInputError,
        match=r"expected a folder of tNNN.tif frames, a multi-page TIFF stack \(T, Y, X\) or an array \(T, Y, X\)",
    ):
        shipped.track(array, tmp_path / "out")
    assert not (tmp_path / "out").exists()
