"""The network, its files and where it runs.

The device and precision choices live here, free of torch, so that the command line can offer
them without importing torch first.
"""

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
