"""The mask rules of the official readers."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from ctc_submit.evaluation.matching import read_reference, read_result_mask
from ctc_submit.io import CTCInputError


def write(path, data, **kwargs):
    tifffile.imwrite(path, data, **kwargs)
    return path


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.uint32, np.float32])
def test_masks_must_be_uint16(tmp_path, dtype):
    path = write(tmp_path / "mask000.tif", np.ones((4, 4), dtype))
    with pytest.raises(CTCInputError, match="mask000.tif: masks must be 16-bit unsigned"):
        read_result_mask(path)


def test_zstd_masks_are_refused(tmp_path):
    path = write(tmp_path / "mask000.tif", np.ones((4, 4), np.uint16), compression="zstd")
    with pytest.raises(CTCInputError, match="ZSTD compression"):
        read_result_mask(path)


@pytest.mark.parametrize("options", [{}, {"compression": "zlib"}, {"compression": "lzw"}, {"byteorder": ">"}])
def test_readable_masks_keep_their_labels(tmp_path, options):
    labels = np.arange(12, dtype=np.uint16).reshape(1, 3, 4) * 1000
    path = write(tmp_path / "mask000.tif", labels, **options)
    mask = read_result_mask(path)
    assert mask.dtype == np.uint16 and mask.dtype.isnative
    np.testing.assert_array_equal(mask, labels[0])


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(CTCInputError, match="mask001.tif: file not found"):
        read_result_mask(tmp_path / "mask001.tif")
    (tmp_path / "mask002.tif").write_bytes(b"not a tiff")
    with pytest.raises(CTCInputError, match="mask002.tif: unreadable TIFF"):
        read_result_mask(tmp_path / "mask002.tif")


def test_reference_must_hold_small_unsigned_labels(tmp_path):
    np.testing.assert_array_equal(read_reference(write(tmp_path / "a.tif", np.eye(3, dtype=np.uint8))), np.eye(3))
    with pytest.raises(CTCInputError, match="b.tif: ground-truth labels"):
        read_reference(write(tmp_path / "b.tif", np.eye(3, dtype=np.float32)))
