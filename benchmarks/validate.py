"""Speed and memory of ``validate_result`` on the real results in ``shared/eval-fixtures``.

Targets: at least 50 frames/s on 576x720 LZW masks, and a peak Python memory of a few frames
whatever the sequence length (frames are streamed, never stacked).
Run: ``nice -n 5 python benchmarks/validate.py``.
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from pathlib import Path

from ctc_submit.io import tiff_layout
from ctc_submit.validate import validate_result

SHARED = Path(os.environ.get("CTC_SUBMIT_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CASES = ["PhC-C2DL-PSC-01", "iPSC-01"]
TARGET_FRAMES_PER_SECOND = 50.0
MAX_PEAK_FRAMES = 16


def main() -> int:
    failed = False
    for case in CASES:
        res_dir, gt_dir = SHARED / "eval-fixtures" / case / "01_RES", SHARED / "eval-fixtures" / case / "01_GT"
        masks = sorted(res_dir.glob("mask*.tif"))
        frame_bytes = 2 * tiff_layout(masks[0]).shape[-1] * tiff_layout(masks[0]).shape[-2]
        started = time.perf_counter()
        report = validate_result(res_dir, gt_dir)
        seconds = time.perf_counter() - started
        tracemalloc.start()
        validate_result(res_dir, gt_dir)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rate = len(masks) / seconds
        peak_frames = peak / frame_bytes
        ok = report.ok and rate >= TARGET_FRAMES_PER_SECOND and peak_frames <= MAX_PEAK_FRAMES
        failed |= not ok
        print(
            f"{case}: {len(masks)} frames in {seconds:.2f} s = {rate:.0f} frames/s "
            f"(target {TARGET_FRAMES_PER_SECOND:.0f}), peak memory {peak / 2**20:.1f} MiB = {peak_frames:.1f} frames "
            f"(max {MAX_PEAK_FRAMES}), valid={report.ok} {'OK' if ok else 'FAIL'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
