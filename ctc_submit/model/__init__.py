"""The network, its files and where it runs.

In: normalised frames on the network grid (256, 256), or larger for a preset with a network_scale,
from :mod:`ctc_submit.normalize`, one at a time. Out: per-pixel unit embeddings (E, H, W) of each
frame, for :mod:`ctc_submit.tracking`; a grid larger than 256x256 runs in overlapping tiles
(:mod:`~ctc_submit.model.tiling`). A model file holds the weights and its card
(:mod:`~ctc_submit.model.card`), checked on loading (:mod:`~ctc_submit.model.checks`).

The device and precision choices live here, free of torch, so that the command line can offer
them without importing torch first.
"""

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
