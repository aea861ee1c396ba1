"""Fetching the official Cell Tracking Challenge archives.

A CTC zip is tens of megabytes to gigabytes, fetched over networks that drop connections,
onto disks that fill up. So the transfer resumes with HTTP Range requests (or restarts when
the server ignores them), the archive is checked for completeness before anything is
unpacked, and everything happens in a hidden working folder inside the destination that is
renamed into place at the very end: a failure at any step leaves the destination as it was.
"""

from __future__ import annotations

import errno
import http.client
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

from ctc_submit.datasets import URL_BASE, dataset_named
from ctc_submit.io import CTCInputError, check_replaceable, file_sha256

CHUNK = 1 << 16
# What a downloaded dataset folder holds: sequences, their truths and results. --overwrite
# replaces nothing else, so a mistyped destination can never delete the user's other data.
DATASET_ENTRY = re.compile(r"^\d+(_GT|_ST|_RES)?$")

Progress = Callable[[int, "int | None"], None]


class DownloadError(Exception):
    """The transfer or the archive failed (network, server, corrupt data): not the user's input."""


def dataset_url(name: str, kind: str = "training", url_base: str = URL_BASE) -> str:
    """URL of a dataset's zip (challenge or short name); unknown names are an input error listing the known ones."""
    return dataset_named(name).url(kind, url_base)


def free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def require_space(folder: Path, needed: int, what: str) -> None:
    """Refuse to start a step that cannot fit, instead of failing half-way with ENOSPC."""
    free = free_bytes(folder)
    if needed > free:
        raise CTCInputError(
            f"{folder}: not enough free space for {what} ({needed / 1e6:.1f} MB needed, {free / 1e6:.1f} MB free)"
        )


def _reply_range(response: http.client.HTTPResponse) -> tuple[int, int | None]:
    """(first byte sent, full size or None) of a reply, from Content-Range or Content-Length."""
    if response.status == 206:
        match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", "").strip())
        if not match:
            raise DownloadError(f"{response.url}: partial reply without a valid Content-Range")
        total = match.group(2)
        return int(match.group(1)), int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length", "")
    return 0, int(length) if length.isdigit() else None


def fetch(
    url: str,
    target: Path,
    *,
    retries: int = 4,
    backoff_s: float = 1.0,
    timeout_s: float = 60.0,
    progress: Progress | None = None,
) -> int:
    """Download ``url`` to ``target``, resuming after broken connections; returns the size.

    Each retry asks for the missing tail with a Range header; a server that answers 200
    instead of 206 sends the whole file again, so the file is restarted. The transfer is only
    complete when the byte count equals the announced size.
    """
    target = Path(target)
    target.write_bytes(b"")
    last_error = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff_s * attempt)
        start = target.stat().st_size
        request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                first, total = _reply_range(response)
                if first != start:
                    if response.status == 206:
                        target.write_bytes(b"")
                        raise urllib.error.URLError(f"server resumed at byte {first} instead of {start}")
                    start = 0
                if total is not None and start == 0:
                    require_space(target.parent, total, f"downloading {url}")
                with open(target, "r+b" if start else "wb") as out:
                    out.seek(start)
                    received = start
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        received += len(chunk)
                        if progress:
                            progress(received, total)
            if total is None or received == total:
                return received
            last_error = f"connection closed after {received} of {total} bytes"
        except urllib.error.HTTPError as error:
            if error.code == 416 and start:
                target.write_bytes(b"")
                last_error = "server refused to resume"
                continue
            if 400 <= error.code < 500:
                raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
            last_error = f"HTTP {error.code} {error.reason}"
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            if isinstance(error, OSError) and error.errno == errno.ENOSPC:
                raise CTCInputError(f"{target.parent}: no space left on device") from None
            last_error = str(getattr(error, "reason", error)) or type(error).__name__
    raise DownloadError(f"{url}: download failed after {retries + 1} attempts ({last_error})")


def verify_archive(path: Path, expected_size: int | None = None, sha256: str | None = None) -> None:
    """Check size, checksum and every member's CRC before trusting the archive."""
    path = Path(path)
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise DownloadError(f"{path.name}: size {size} bytes, expected {expected_size}")
    if sha256 is not None and file_sha256(path) != sha256.lower():
        raise DownloadError(f"{path.name}: sha256 does not match {sha256}")
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise DownloadError(f"{path.name}: not a complete zip archive ({error})") from None
    if broken is not None:
        raise DownloadError(f"{path.name}: member {broken} is corrupt (CRC mismatch)")


def dataset_root(extracted: Path) -> Path:
    """The folder holding the sequences: archives usually wrap them in one top folder."""
    entries = [entry for entry in extracted.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].name.isdigit():
        return entries[0]
    return extracted


def extract(archive_path: Path, workdir: Path) -> Path:
    """Unpack into ``workdir`` and return the dataset folder found there."""
    with zipfile.ZipFile(archive_path) as archive:
        unpacked = sum(member.file_size for member in archive.infolist())
        require_space(workdir, unpacked, f"unpacking {archive_path.name}")
        target = workdir / "unpacked"
        try:
            archive.extractall(target)
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise CTCInputError(f"{workdir.parent}: no space left on device") from None
            raise
    root = dataset_root(target)
    if not any(entry.is_dir() and entry.name.isdigit() for entry in root.iterdir()):
        raise DownloadError(f"{archive_path.name}: no sequence folders (01, 02, ...) in the archive")
    return root


def prepare_destination(dest: Path, name: str, overwrite: bool) -> Path:
    """Create ``dest`` and check that ``dest/name`` may be written, before any transfer."""
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CTCInputError(f"{dest}: cannot create destination folder ({error.strerror})") from None
    if not dest.is_dir():
        raise CTCInputError(f"{dest}: destination is not a folder")
    if not os.access(dest, os.W_OK | os.X_OK):
        raise CTCInputError(f"{dest}: destination folder is not writable")
    final = dest / name
    check_replaceable(
        final, overwrite, lambda entry: entry.is_dir() and bool(DATASET_ENTRY.match(entry.name)),
        "a CTC dataset folder", "folders of sequences (01, 01_GT, 01_ST, 01_RES, ...)",
    )  # fmt: skip
    return final


def install(unpacked: Path, final: Path, workdir: Path) -> None:
    """Move the unpacked folder into place; a replaced folder is only deleted afterwards."""
    previous = workdir / "previous"
    if final.exists():
        final.rename(previous)
    try:
        unpacked.rename(final)
    except OSError:
        if previous.exists():
            previous.rename(final)
        raise


def download_dataset(
    name: str,
    dest: Path,
    *,
    kind: str = "training",
    overwrite: bool = False,
    url_base: str = URL_BASE,
    expected_size: int | None = None,
    sha256: str | None = None,
    retries: int = 4,
    backoff_s: float = 1.0,
    progress: Progress | None = None,
) -> Path:
    """Download and unpack one dataset to ``dest/NAME`` (its challenge name, also when asked by its
    short name); the table's checksum is checked where known. On failure ``dest`` is left untouched."""
    dataset = dataset_named(name)
    name = dataset.name
    url = dataset.url(kind, url_base)
    sha256 = sha256 or dataset.archive_sha256(kind)
    dest = Path(dest)
    created = [folder for folder in (dest.absolute(), *dest.absolute().parents) if not folder.exists()]
    try:
        final = prepare_destination(dest, name, overwrite)
        try:
            workdir = Path(tempfile.mkdtemp(prefix=f".{name}-", suffix=".partial", dir=dest))
        except OSError as error:
            raise CTCInputError(f"{dest}: cannot write there ({error.strerror})") from None
        try:
            archive = workdir / f"{name}.zip"
            fetch(url, archive, retries=retries, backoff_s=backoff_s, progress=progress)
            verify_archive(archive, expected_size, sha256)
            root = extract(archive, workdir)
            archive.unlink()
            install(root, final, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    except BaseException:
        remove_empty(created)
        raise
    return final


def remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed download created (deepest first), if they are still empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return
