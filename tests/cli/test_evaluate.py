"""``ctc-submit evaluate`` in-process: official lines, JSON, logs, refusals as one line."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from ctc_submit.cli import main


def run(*args: str):
    return CliRunner().invoke(main, ["evaluate", *map(str, args)])


def official_line(log) -> str:
    return log.read_text().replace("\r", "").splitlines()[-1]


@pytest.mark.slow
def test_real_result_prints_the_three_official_lines(eval_fixtures):
    folder = eval_fixtures / "PhC-C2DL-PSC-01"
    result = run(folder, "01")
    assert result.exit_code == 0, result.output
    expected = [official_line(folder / "01_RES" / f"{m}_log.txt") for m in ["SEG", "TRA", "DET"]]
    assert expected == ["SEG measure: 0.502177", "TRA measure: 0.726467", "DET measure: 0.784390"]
    assert result.output.splitlines() == expected


def test_json_and_chosen_measures(eval_fixtures):
    folder = eval_fixtures / "golden" / "R1_missEdge_FP"
    result = run(folder, "01", "--json", "--measures", "det,DET0, seg")
    assert result.exit_code == 0, result.output
    expected = json.loads((folder / "expected.json").read_text())
    values = json.loads(result.output)
    assert list(values) == ["DET", "DET0", "SEG"]
    assert values["DET"] == pytest.approx(expected["DET"]["value"], abs=1e-6)
    assert values["DET0"] == pytest.approx(expected["DET_penalize0"]["value"], abs=1e-6)
    assert values["SEG"] == pytest.approx(expected["SEG"]["value"], abs=1e-6)


def test_log_dir_and_result_folder_option(eval_fixtures, tmp_path):
    folder = eval_fixtures / "golden" / "R2_merge_NS"
    result = run(folder, "01", "--res", folder / "01_RES", "--log-dir", tmp_path / "logs")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["DET_log.txt", "SEG_log.txt", "TRA_log.txt"]
    assert "T=2 Label=5" in (tmp_path / "logs" / "TRA_log.txt").read_text().splitlines()


@pytest.mark.parametrize(
    "case, options, message",
    [
        (None, [], r"nowhere/01_GT: folder not found"),
        ("bad_gap", [], r"01_RES: frame 1, label 20: missing from the mask"),
        ("bad_uint8_masks", ["--measures", "SEG"], r"mask000.tif: masks must be 16-bit unsigned"),
        ("R0_perfect", ["--measures", "SEG,MOTA"], r"unknown measure 'MOTA'"),
    ],
)
def test_refusals_are_one_error_line(eval_fixtures, tmp_path, case, options, message):
    folder = tmp_path / "nowhere" if case is None else eval_fixtures / "golden" / case
    result = run(folder, "01", *options)
    assert result.exit_code != 0
    assert len(result.output.splitlines()) == 1
    assert result.output.startswith("Error: ") and re.search(message, result.output), result.output


def test_official_tools_missing_or_present(eval_fixtures, tmp_path, monkeypatch):
    folder = eval_fixtures / "golden" / "R0_perfect"
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CTC_EVALUATION_TOOLS", raising=False)
    result = run(folder, "01", "--official")
    assert result.exit_code != 0 and result.output.startswith("Error: SEGMeasure not found")
    for name, value in [("SEGMeasure", "0.900000"), ("TRAMeasure", "0.800000"), ("DETMeasure", "0.700000")]:
        tool = tmp_path / name
        tool.write_text(f"#!/bin/sh\necho '{name[:3]} measure: {value}'\n")
        tool.chmod(0o755)
    result = run(folder, "01", "--official")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["SEG measure: 0.900000", "TRA measure: 0.800000", "DET measure: 0.700000"]


@pytest.mark.parametrize("where", ["below a file", "in /proc"])
def test_an_unwritable_log_dir_keeps_the_scores_and_says_one_line(eval_fixtures, tmp_path, where):
    folder = eval_fixtures / "golden" / "R1_missEdge_FP"
    (tmp_path / "file").write_text("")
    log_dir = tmp_path / "file" / "logs" if where == "below a file" else "/proc/ctc_submit_logs"
    result = run(folder, "01", "--log-dir", log_dir)
    assert result.exit_code == 2
    *scores, last = result.output.splitlines()
    assert [line.split(":")[0] for line in scores] == ["SEG measure", "TRA measure", "DET measure"]
    assert last.startswith(f"Error: --log-dir {log_dir}: cannot write the logs there (") and last.endswith(
        "; scores above"
    )
    assert [path.name for path in tmp_path.iterdir()] == ["file"]
