"""Downloads against a loopback HTTP server that can break transfers on purpose."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from ctc_submit import download
from ctc_submit.cli import main
from ctc_submit.datasets import DATASETS
from ctc_submit.download import DownloadError, dataset_url, download_dataset
from ctc_submit.io import CTCInputError

NAME = "DIC-C2DH-HeLa"
MEMBERS = [
    "01/t000.tif",
    "01/t001.tif",
    "01/t002.tif",
    "01_GT/TRA/man_track000.tif",
    "01_GT/TRA/man_track001.tif",
    "01_GT/TRA/man_track.txt",
]


@pytest.fixture(scope="module")
def archive(ctc_data: Path) -> bytes:
    """A small CTC-style zip (top folder DATASET/) built from a few real frames."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for member in MEMBERS:
            zipped.write(ctc_data / NAME / member, f"{NAME}/{member}")
    return buffer.getvalue()


class Server(ThreadingHTTPServer):
    """Serves one payload at /training-datasets/NAME.zip; ``cut_after`` breaks the first transfers."""

    daemon_threads = True

    def __init__(self, payload: bytes) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.payload = payload
        self.cut_after: int | None = None
        self.cuts_left = 0
        self.honour_range = True
        self.requests: list[str | None] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, *args) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        server = self.server
        server.requests.append(self.headers.get("Range"))
        if self.path != f"/training-datasets/{NAME}.zip":
            self.send_error(404)
            return
        payload, start = server.payload, 0
        requested = self.headers.get("Range")
        if requested and server.honour_range:
            start = int(requested.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
        else:
            self.send_response(200)
        body = payload[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.cuts_left and server.cut_after is not None:
            server.cuts_left -= 1
            self.wfile.write(body[: server.cut_after])
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server(archive: bytes):
    httpd = Server(archive)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def fetch_into(dest: Path, server: Server, **options) -> Path:
    options.setdefault("retries", 3)
    return download_dataset(NAME, dest, url_base=server.base, backoff_s=0, **options)


def assert_untouched(dest: Path) -> None:
    """Nothing partial: the destination holds neither the dataset nor a working folder."""
    assert sorted(path.name for path in dest.iterdir()) == []


def test_url_pattern_of_both_kinds() -> None:
    assert dataset_url(NAME) == f"https://data.celltrackingchallenge.net/training-datasets/{NAME}.zip"
    assert dataset_url(NAME, "test") == f"https://data.celltrackingchallenge.net/test-datasets/{NAME}.zip"


def test_complete_download_unpacks_without_top_folder(server: Server, tmp_path: Path, ctc_data: Path) -> None:
    folder = fetch_into(tmp_path, server)
    assert folder == tmp_path / NAME
    for member in MEMBERS:
        assert (folder / member).read_bytes() == (ctc_data / NAME / member).read_bytes()
    assert sorted(path.name for path in tmp_path.iterdir()) == [NAME]
    assert server.requests == [None]


def test_broken_transfer_resumes_with_range(server: Server, tmp_path: Path, archive: bytes) -> None:
    server.cut_after, server.cuts_left = len(archive) // 3, 2
    folder = fetch_into(tmp_path, server)
    assert (folder / "01" / "t002.tif").is_file()
    third = len(archive) // 3
    assert server.requests == [None, f"bytes={third}-", f"bytes={2 * third}-"]


def test_server_without_range_support_restarts_cleanly(server: Server, tmp_path: Path, archive: bytes) -> None:
    server.cut_after, server.cuts_left, server.honour_range = len(archive) // 2, 1, False
    folder = fetch_into(tmp_path, server)
    assert sorted(path.name for path in folder.iterdir()) == ["01", "01_GT"]
    assert len(server.requests) == 2


def test_transfer_that_keeps_breaking_fails_with_nothing_left(server: Server, tmp_path: Path) -> None:
    server.cut_after, server.cuts_left = 1000, 100
    with pytest.raises(DownloadError, match="after 3 attempts.*connection closed after"):
        fetch_into(tmp_path, server, retries=2)
    assert len(server.requests) == 3
    assert_untouched(tmp_path)


def test_failure_removes_the_folders_it_created(server: Server, tmp_path: Path) -> None:
    server.cut_after, server.cuts_left = 10, 100
    with pytest.raises(DownloadError):
        fetch_into(tmp_path / "new" / "dest", server, retries=0)
    assert_untouched(tmp_path)


def test_wrong_checksum_or_size_is_rejected(server: Server, tmp_path: Path, archive: bytes) -> None:
    with pytest.raises(DownloadError, match="sha256 does not match"):
        fetch_into(tmp_path, server, sha256="0" * 64)
    with pytest.raises(DownloadError, match=f"expected {len(archive) + 1}"):
        fetch_into(tmp_path, server, expected_size=len(archive) + 1)
    assert_untouched(tmp_path)
    good = fetch_into(tmp_path, server, sha256=hashlib.sha256(archive).hexdigest(), expected_size=len(archive))
    assert good.is_dir()


def test_corrupt_archive_is_rejected(server: Server, tmp_path: Path, archive: bytes) -> None:
    damaged = bytearray(archive)
    damaged[len(damaged) // 2] ^= 0xFF
    server.payload = bytes(damaged)
    with pytest.raises(DownloadError, match="corrupt|not a complete zip"):
        fetch_into(tmp_path, server)
    assert_untouched(tmp_path)


def test_archive_without_sequences_is_rejected(server: Server, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("README.txt", "no data")
    server.payload = buffer.getvalue()
    with pytest.raises(DownloadError, match="no sequence folders"):
        fetch_into(tmp_path, server)
    assert_untouched(tmp_path)


def test_no_space_is_checked_before_writing(server: Server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(download, "free_bytes", lambda folder: 1000)
    with pytest.raises(CTCInputError, match="not enough free space"):
        fetch_into(tmp_path, server)
    assert server.requests == [None]
    assert_untouched(tmp_path)


def test_overwrite_replaces_the_old_folder(server: Server, tmp_path: Path) -> None:
    old = tmp_path / NAME / "02"
    old.mkdir(parents=True)
    with pytest.raises(CTCInputError, match="allow overwriting") as refused:
        fetch_into(tmp_path, server)
    assert refused.value.option == "overwrite"
    assert server.requests == []
    fetch_into(tmp_path, server, overwrite=True)
    assert sorted(path.name for path in (tmp_path / NAME).iterdir()) == ["01", "01_GT"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [NAME]


def test_overwrite_replaces_only_a_folder_that_looks_like_a_dataset(server: Server, tmp_path: Path) -> None:
    mine = tmp_path / NAME / "notes.txt"
    mine.parent.mkdir()
    mine.write_text("my analysis")
    with pytest.raises(CTCInputError, match="not a CTC dataset folder \\(holds notes.txt\\)"):
        fetch_into(tmp_path, server, overwrite=True)
    assert server.requests == [] and mine.read_text() == "my analysis"


def test_failed_overwrite_keeps_the_old_folder(server: Server, tmp_path: Path) -> None:
    old = tmp_path / NAME / "02"
    old.mkdir(parents=True)
    server.cut_after, server.cuts_left = 10, 100
    with pytest.raises(DownloadError):
        fetch_into(tmp_path, server, overwrite=True, retries=0)
    assert sorted(path.name for path in tmp_path.iterdir()) == [NAME]
    assert old.is_dir()


def invoke(*args: str):
    return CliRunner().invoke(main, ["download", *args])


def test_cli_downloads_and_lists_sequences(server: Server, tmp_path: Path) -> None:
    result = invoke(NAME, "--dest", str(tmp_path), "--url-base", server.base)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{tmp_path / NAME}: 01, 01_GT"
    assert "MB" in result.stderr


def test_cli_takes_the_short_name_and_writes_the_challenge_name(server: Server, tmp_path: Path) -> None:
    result = invoke("DIC-HeLa", "--dest", str(tmp_path), "--url-base", server.base)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{tmp_path / NAME}: 01, 01_GT"
    assert server.requests == [None]  # the server answers only /training-datasets/DIC-C2DH-HeLa.zip


def test_cli_unknown_dataset_lists_known_ones(tmp_path: Path) -> None:
    result = invoke("HeLa", "--dest", str(tmp_path / "d"))
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert all(name in result.output for name in DATASETS)
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("problem", ["file", "non-empty"])
def test_cli_bad_destination_is_one_line(server: Server, tmp_path: Path, problem: str) -> None:
    if problem == "file":
        (tmp_path / "file").write_text("x")
        dest, expected = tmp_path / "file" / "sub", "cannot create destination folder"
    else:
        (tmp_path / NAME).mkdir()
        (tmp_path / NAME / "keep.txt").write_text("x")
        dest, expected = tmp_path, "(allow overwriting to replace it) [--overwrite]"
    result = invoke(NAME, "--dest", str(dest), "--url-base", server.base)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and expected in result.stderr
    assert result.stderr.count("\n") == 1
    assert server.requests == []


def test_cli_http_error_exits_1(server: Server, tmp_path: Path) -> None:
    result = invoke(NAME, "--kind", "test", "--dest", str(tmp_path), "--url-base", server.base)
    assert result.exit_code == 1
    assert "HTTP 404" in result.stderr and "Traceback" not in result.output
    assert_untouched(tmp_path)
