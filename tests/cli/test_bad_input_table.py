"""Bad paths, bad frames, bad model files and bad numbers against every command, as a table.

For each case: a non-zero exit, no traceback, at most a few lines, and the whole folder tree --
inputs and everything around them -- byte-identical afterwards: nothing changed, nothing left behind.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import tifffile
from bad_models import BAD_MODELS, write_good_model
from click.testing import CliRunner
from ctc_layout import copy_first_frames

from ctc_submit.cli import main

DATASET = "DIC-C2DH-HeLa"
MAX_LINES = 5


def tree(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a hash of its bytes: what must not change."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
        for path in sorted(root.rglob("*"))
    }


@pytest.fixture(scope="module")
def pristine(ctc_data, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pristine")
    copy_first_frames(ctc_data / DATASET, root / DATASET, "01", 3)
    write_good_model(root / "model.pt")
    return root


@pytest.fixture()
def work(pristine, tmp_path) -> Path:
    shutil.copytree(pristine, tmp_path / "work")
    return tmp_path / "work"


def run_args(root: Path, output: str = "01_RES", *options: str, model: str = "model.pt") -> list[str]:
    data = root / DATASET
    return ["run", str(data / "01"), str(data / output), "--dataset", DATASET, "--model", str(root / model),
            "--device", "cpu", "--no-score", *options]  # fmt: skip


def frame(root: Path, index: int = 2) -> Path:
    return root / DATASET / "01" / f"t{index:03d}.tif"


def replace_frame(image: np.ndarray, **options) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        tifffile.imwrite(frame(root), image, **options)

    return write


def with_nan(root: Path) -> None:
    image = tifffile.imread(frame(root)).astype(np.float32)
    image[10, 20] = np.nan
    tifffile.imwrite(frame(root), image)


def with_inf(root: Path) -> None:
    image = tifffile.imread(frame(root)).astype(np.float32)
    image[0, 0] = np.inf
    tifffile.imwrite(frame(root), image)


def truncated_pixels(root: Path) -> None:
    """A frame whose header is sound but whose pixel data is cut (the header comes first)."""
    tifffile.imwrite(frame(root), tifffile.imread(frame(root)))
    frame(root).write_bytes(frame(root).read_bytes()[:5000])


def nothing(root: Path) -> None:
    pass


def a_file(name: str, text: str = "") -> Callable[[Path], None]:
    def write(root: Path) -> None:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)

    return write


def a_folder(name: str) -> Callable[[Path], None]:
    return lambda root: (root / name).mkdir(parents=True)


def a_model(write: Callable[[Path], None]) -> Callable[[Path], None]:
    return lambda root: write(root / "model.pt")


def a_result_folder(root: Path) -> None:
    """A previous result: masks and tracks, with GT beside it for evaluate and validate."""
    from ctc_submit.io import Track, write_mask, write_tracks

    result = root / DATASET / "01_RES"
    result.mkdir()
    labels = np.zeros((512, 512), np.uint16)
    labels[100:150, 100:150] = 1
    for index in range(3):
        write_mask(result / f"mask{index:03d}.tif", labels)
    write_tracks(result / "res_track.txt", [Track(1, 0, 2, 0)])


def stack_args(root: Path, name: str = "stack.tif") -> list[str]:
    return ["run", str(root / name), str(root / "stack_RES"), "--dataset", DATASET, "--model", str(root / "model.pt")]


DATA = f"{DATASET}"
# One row per bad input, kept one line each: input, command, what the error must say.
# fmt: off
CASES: dict[str, tuple[Callable[[Path], None], Callable[[Path], list[str]], str]] = {
    # bad paths
    "output is the input": (nothing, lambda r: run_args(r, "01", "--overwrite"), "overlaps the input folder"),
    "output is the input's parent": (nothing, lambda r: run_args(r, ".", "--overwrite"), "overlaps the input folder"),
    "output inside the GT": (nothing, lambda r: run_args(r, "01_GT/TRA", "--overwrite"), "overlaps the input folder"),
    "output holds other files": (a_file(f"{DATA}/01_RES/notes.txt", "mine"), lambda r: run_args(r, "01_RES", "--overwrite"), "not a result folder (holds notes.txt)"),
    "output holds a folder": (a_folder(f"{DATA}/01_RES/sub"), lambda r: run_args(r, "01_RES", "--overwrite"), "not a result folder (holds sub)"),
    "output below a file": (a_file("plain"), lambda r: run_args(r, "../plain/01_RES"), "is a file, not a folder"),
    "output under /proc": (nothing, lambda r: run_args(r)[:2] + ["/proc/ctc_submit/01_RES"] + run_args(r)[3:], "cannot write in /proc"),
    "output is a file": (a_file(f"{DATA}/01_RES"), lambda r: run_args(r, "01_RES", "--overwrite"), "exists and is not a folder"),
    "report path is a folder": (a_folder(f"{DATA}/01_RES.run_report.json"), lambda r: run_args(r), "is a folder; the run report goes there"),
    "input missing": (nothing, lambda r: ["run", str(r / "nope"), str(r / "out"), "--dataset", DATASET, "--model", str(r / "model.pt")], "folder not found"),
    "model missing": (nothing, lambda r: run_args(r, model="missing.pt"), "model file not found"),
    # bad frames
    "truncated frame": (lambda r: frame(r).write_bytes(frame(r).read_bytes()[:300]), run_args, "t002.tif: no image in the file"),
    "truncated pixel data": (truncated_pixels, run_args, "t002.tif: truncated TIFF"),
    "not a TIFF": (lambda r: frame(r).write_text("hello"), run_args, "t002.tif: unreadable TIFF"),
    "empty frame file": (lambda r: frame(r).write_bytes(b""), run_args, "t002.tif: unreadable TIFF"),
    "NaN pixel": (with_nan, run_args, "t002.tif: 1 pixels are NaN or infinite"),
    "infinite pixel": (with_inf, run_args, "t002.tif: 1 pixels are NaN or infinite"),
    "RGB frame": (replace_frame(np.zeros((512, 512, 3), np.uint8)), run_args, "t002.tif: 3 samples per pixel"),
    "3D frame": (replace_frame(np.zeros((2, 512, 512), np.uint8)), run_args, "t002.tif: expected a 2D frame"),
    "other size": (replace_frame(np.zeros((256, 512), np.uint8)), run_args, "t002.tif: size 512x256 differs"),
    "complex pixels": (replace_frame(np.zeros((512, 512), np.complex64)), run_args, "unsupported pixel type"),
    "gap in frames": (lambda r: frame(r, 1).unlink(), run_args, "frame t001 is missing"),
    # bad stacks
    "stack of RGB pages": (lambda r: tifffile.imwrite(r / "stack.tif", np.zeros((2, 64, 64, 3), np.uint8)), lambda r: stack_args(r), "stack.tif: 3 channel(s) of uint8; expected a folder of tNNN.tif frames, a multi-page TIFF stack (T, Y, X)"),
    "stack of complex pixels": (lambda r: tifffile.imwrite(r / "stack.tif", np.zeros((2, 64, 64), np.complex64)), lambda r: stack_args(r), "expected a folder of tNNN.tif"),
    "stack with a NaN": (lambda r: tifffile.imwrite(r / "stack.tif", np.full((2, 64, 64), np.nan, np.float32)), lambda r: stack_args(r), "stack.tif: page 0: 4096 pixels are NaN"),
    "input is a text file": (a_file("movie.txt", "frames"), lambda r: stack_args(r, "movie.txt"), "movie.txt: not a folder or a .tif file; expected a folder of tNNN.tif"),
    # bad numbers on the command line
    "unknown dataset": (nothing, lambda r: run_args(r)[:4] + ["Nope"] + run_args(r)[5:], "unknown dataset 'Nope'"),
    "validate --num-digits 1": (a_result_folder, lambda r: ["validate", str(r / DATA / "01_RES"), "--num-digits", "1"], "--num-digits"),
    "evaluate unknown measure": (a_result_folder, lambda r: ["evaluate", str(r / DATA), "01", "--measures", "FOO"], "FOO"),
    # other commands
    "validate a missing folder": (nothing, lambda r: ["validate", str(r / "nope")], "folder not found"),
    "evaluate --log-dir below a file": (lambda r: (a_result_folder(r), a_file("plain")(r)), lambda r: ["evaluate", str(r / DATA), "01", "--log-dir", str(r / "plain" / "logs")], "cannot write the logs there"),
    "render into the result": (a_result_folder, lambda r: ["render", str(r / DATA / "01_RES"), "--out", str(r / DATA / "01_RES")], "overlaps the input folder"),
    "scripts into a file": (a_file("plain"), lambda r: ["scripts", str(r / "plain")], "cannot write the scripts there"),
    "scripts over other scripts": (a_file("SW/DIC-HeLa-01.sh", "mine"), lambda r: ["scripts", str(r / "SW")], "exists and differs"),
    "render a corrupt mask": (lambda r: (a_result_folder(r), (r / DATA / "01_RES" / "mask002.tif").write_bytes(b"II*\0junk")), lambda r: ["render", str(r / DATA / "01_RES")], "mask002.tif"),
}
# fmt: on
CASES.update({f"model: {name}": (a_model(write), run_args, fragment) for name, (write, fragment) in BAD_MODELS.items()})


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_fails_cleanly_and_leaves_everything_as_it_was(work, case):
    prepare, arguments, fragment = CASES[case]
    prepare(work)
    before = tree(work)
    result = CliRunner().invoke(main, arguments(work))
    lines = result.output.strip().splitlines()
    assert result.exit_code not in (0, None), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and 1 <= len(lines) <= MAX_LINES, result.output
    assert fragment in lines[-1], result.output
    assert tree(work) == before
