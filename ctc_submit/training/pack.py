"""A training set as one compact file, for a machine that has neither the data nor the TIFF codecs.

A rented GPU receives the working tree and nothing else: the frames of the training runs
(normalised, float16) and their labels (int32, IGNORE where unknown) travel as one compressed
``.npz``, read back with numpy alone. The held-out block stays behind: validation runs the
whole pipeline, which needs the CPU machine's clustering and scorer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ctc_submit.io import CTCInputError
from ctc_submit.presets import Preset

if TYPE_CHECKING:
    from ctc_submit.training.validation import HeldOutBlock

Run = tuple[np.ndarray, np.ndarray]  # normalised images (T, H, W) float32, labels (T, H, W) int64


def pack_training(
    dataset_dir: Path, sequences: list[str], block: HeldOutBlock | None, preset: Preset, path: Path
) -> dict:
    """Write the training runs of ``sequences`` (the first one without ``block``) to ``path``; returns its description."""
    from ctc_submit.training.data import TrainingSequence  # reads TIFFs: needed here, not where packs are read

    runs: list[tuple[str, range, TrainingSequence]] = []
    for index, name in enumerate(sequences):
        sequence = TrainingSequence.load(dataset_dir, name, preset)
        ranges = block.training_ranges(len(sequence)) if block and index == 0 else [range(len(sequence))]
        runs.extend((name, frames, sequence.part(frames)) for frames in ranges)
    description = {
        "dataset": preset.name,
        "runs": [f"{name}: {frames.start}-{frames.stop - 1}" for name, frames, _ in runs],
        "held_out": block.describe() if block else "none",
    }
    arrays = {}
    for index, (_, _, run) in enumerate(runs):
        arrays[f"images_{index}"] = run.images.astype(np.float16)
        arrays[f"labels_{index}"] = run.labels.astype(np.int32)
    np.savez_compressed(path, description=json.dumps(description), **arrays)  # type: ignore[arg-type]  # numpy's stub: **arrays might be allow_pickle
    return description


def load_pack(path: Path) -> tuple[list[Run], dict]:
    """The training runs of a pack (float32 images, int64 labels) and its description."""
    try:
        with np.load(path) as pack:
            description = json.loads(str(pack["description"]))
            count = len(description["runs"])
            runs = [
                (pack[f"images_{index}"].astype(np.float32), pack[f"labels_{index}"].astype(np.int64))
                for index in range(count)
            ]
    except (OSError, KeyError, ValueError) as error:
        raise CTCInputError(f"{path}: not a training pack ({error})") from None
    return runs, description


def main(argv: list[str] | None = None) -> None:
    """``python -m ctc_submit.training.pack DATASET_DIR OUT.npz --dataset NAME [--sequences 01] [--held-out 21-40]``"""
    import argparse

    from ctc_submit.presets import get_preset
    from ctc_submit.training.validation import HeldOutBlock

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="CTC training folder of the dataset")
    parser.add_argument("out", type=Path, help="the pack to write (.npz)")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--sequences", default="01")
    parser.add_argument("--held-out", default="21-40", help="FIRST-LAST frames of the first sequence left out, or none")
    parser.add_argument("--held-out-margin", type=int, default=2)
    arguments = parser.parse_args(argv)
    block = None if arguments.held_out == "none" else HeldOutBlock.parse(arguments.held_out, arguments.held_out_margin)
    names = [name.strip() for name in arguments.sequences.split(",") if name.strip()]
    description = pack_training(arguments.data, names, block, get_preset(arguments.dataset), arguments.out)
    print(json.dumps({**description, "bytes": arguments.out.stat().st_size}))


if __name__ == "__main__":
    main()
