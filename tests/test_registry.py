"""Models by dataset name: the shipped registry, CTC_SUBMIT_MODELS, checksums, and ``ctc-submit models``."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from ctc_layout import save_tiny_model

from ctc_submit.cli import main
from ctc_submit.io import CTCInputError, file_sha256
from ctc_submit.registry import ENVIRONMENT, INDEX, available_models, registered_model, shipped_folder

DATASET = "DIC-C2DH-HeLa"


def test_the_shipped_registry_names_each_file_with_its_checksum_and_card():
    entries = json.loads((shipped_folder() / INDEX).read_text())
    assert DATASET in entries
    for entry in entries.values():
        assert file_sha256(shipped_folder() / entry["file"]) == entry["sha256"]
        assert json.loads((shipped_folder() / entry["card"]).read_text())["dataset"] in entries


def test_a_model_is_found_by_challenge_or_short_name():
    assert registered_model("DIC-HeLa").checked_path() == shipped_folder() / f"{DATASET}.pt"


def test_ctc_submit_models_lists_the_shipped_model_with_its_card(monkeypatch):
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    result = CliRunner().invoke(main, ["models", "--check"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{DATASET}  (shipped: {shipped_folder() / f'{DATASET}.pt'})"
    window = json.loads((shipped_folder() / f"{DATASET}.json").read_text())["recurrent_window"]
    assert f"    run with:        c 0.0025, recurrent window {window['hop']},{window['warmup']}" in lines
    assert any(line.startswith("    network:         filters 32, levels 6") for line in lines)


def test_a_folder_in_the_environment_adds_and_replaces_models(tmp_path):
    save_tiny_model(tmp_path / "DIC-HeLa.pt", DATASET)
    save_tiny_model(tmp_path / "Fluo-N2DL-HeLa.pt", "Fluo-N2DL-HeLa", preset_overrides={"c": 0.005})
    (tmp_path / "notes.pt").write_bytes(b"not named after a dataset: ignored")
    models = available_models({ENVIRONMENT: str(tmp_path)})
    assert models[DATASET].path == tmp_path / "DIC-HeLa.pt" and models[DATASET].origin.startswith(ENVIRONMENT)
    assert models["Fluo-N2DL-HeLa"].card().preset_overrides == {
        "c": 0.005
    }  # read from inside the file: no JSON beside it
    assert set(models) == set(available_models({})) | {"Fluo-N2DL-HeLa"}  # the shipped ones, one replaced, one added


def test_a_checksum_mismatch_is_one_line_and_nothing_runs(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(shipped_folder() / f"{DATASET}.pt", folder)
    (folder / INDEX).write_text(json.dumps({DATASET: {"file": f"{DATASET}.pt", "sha256": "0" * 64}}))
    monkeypatch.setenv(ENVIRONMENT, str(folder))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "01"), str(tmp_path / "01_RES"), "--dataset", DATASET])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"Error: {folder / f'{DATASET}.pt'}: sha256 differs from the registry's 000000000000")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["models"]
    result = CliRunner().invoke(main, ["models", "--check"])
    assert result.exit_code == 2 and "sha256 differs" in result.output


@pytest.mark.parametrize(
    ("setting", "fragment"),
    [("missing", "not a folder"), ("bad-index", "unreadable model registry"), ("bad-entry", "needs at least")],
)
def test_a_broken_environment_folder_is_one_line(tmp_path, setting, fragment):
    folder = tmp_path / "models"
    if setting != "missing":
        folder.mkdir()
        (folder / INDEX).write_text("{" if setting == "bad-index" else json.dumps({DATASET: {"sha256": "x"}}))
    with pytest.raises(CTCInputError, match=fragment):
        available_models({ENVIRONMENT: str(folder)})
