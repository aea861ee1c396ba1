"""Loading shipped weights and streaming embeddings over a sequence.

Normalised frames (see :mod:`ctc_submit.normalize`) go through the network one at a time with
the recurrent state carried, so memory does not grow with the length of the video. A frame on a
grid larger than 256x256 goes through in tiles (:mod:`ctc_submit.model.tiling`).
"""

from __future__ import annotations

import warnings
from collections import deque
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from ctc_submit.io import CTCInputError, write_atomically
from ctc_submit.model.card import RecurrentWindow
from ctc_submit.model.checks import checked_model
from ctc_submit.model.compute import Precision, autocast, resolve_device, resolve_precision
from ctc_submit.model.network import NetworkConfig, StackedHourglass
from ctc_submit.model.tiling import TileLayout, blend_tiles, cut_tiles, tile_layout, tile_weights


def save_model(path: Path, network: StackedHourglass, card: dict) -> None:
    """Half-precision weights with their config and model card: small enough to ship in the repo."""
    save_weights(path, network.config, network.state_dict(), card)


def save_weights(path: Path, config: NetworkConfig, weights: dict[str, torch.Tensor], card: dict) -> None:
    """:func:`save_model` for weights held apart from a network (e.g. the best checkpoint of a run), atomically."""
    state = {name: tensor.detach().cpu().half() for name, tensor in weights.items()}
    payload = {"config": config.to_dict(), "card": card, "state_dict": state}
    write_atomically(Path(path), lambda target: torch.save(payload, target))


def load_model(path: str | Path, device: str = "auto") -> tuple[StackedHourglass, dict]:
    """Rebuild a network from a saved file, checked (see :mod:`checks`); returns it in eval mode with its card (config included)."""
    path = Path(path)
    if not path.is_file():
        raise CTCInputError(f"{path}: model file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's warnings about odd pickles: the line below says it all
            saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise CTCInputError(f"{path}: not a ctc_submit model (torch cannot load it as a file of weights)") from None
    network, card = checked_model(saved, path)
    network.eval().to(resolve_device(device), memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs omit memory_format
    return network, card


# Tiles in one forward on a CPU. A batch of all 9 256x256 tiles of a SIM+ frame (32 filters)
# ran 1.5x slower than forwards of 1-3 tiles on one thread (its activations leave the caches);
# an accelerator takes all tiles of a frame as one batch.
CPU_TILES_PER_FORWARD = 1


class _Stepper:
    """One network step on a normalised frame: run, return (E, H, W) unit-norm embeddings and the state.

    Each step runs in inference mode and autocast to ``precision`` on its own: a caller's code
    between the frames of a generator built on it runs in neither.

    A frame larger than the network's input goes through as a batch of overlapping tiles
    (:mod:`~ctc_submit.model.tiling`), ``per_forward`` at a time (all by default on an accelerator,
    CPU_TILES_PER_FORWARD on a CPU). The state is one network state per group of tiles run
    together, so each tile position keeps its own recurrent state through the video.
    """

    def __init__(
        self, network: StackedHourglass, device: torch.device, precision: Precision, per_forward: int | None = None
    ) -> None:
        self.network, self.device, self.precision = network, device, precision
        self.per_forward = per_forward or (CPU_TILES_PER_FORWARD if device.type == "cpu" else None)
        self.layout: TileLayout | None = None
        self.weights: torch.Tensor | None = None

    def prepare(self, frame: np.ndarray) -> torch.Tensor:
        frame = np.ascontiguousarray(frame, dtype=np.float32)
        if self.layout is None or self.layout.grid != frame.shape:
            self.layout = tile_layout(frame.shape)
            self.weights = torch.from_numpy(tile_weights(self.layout.tile)).to(self.device)
        tensor = (
            torch.from_numpy(frame)[None, None]
            if self.layout.whole
            else torch.from_numpy(cut_tiles(frame, self.layout))[:, None]
        )
        if self.device.type == "cuda":
            tensor = tensor.pin_memory()  # lets the copy overlap the previous frame's work
        return tensor.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)

    def __call__(self, tensor: torch.Tensor, state: list | None) -> tuple[np.ndarray, list]:
        groups = tensor.split(self.per_forward) if self.per_forward and self.per_forward < len(tensor) else (tensor,)
        states = state if state is not None else [None] * len(groups)
        outputs, new_states = [], []
        assert self.layout is not None and self.weights is not None  # set by prepare()
        with torch.inference_mode(), autocast(self.device, self.precision):
            for group, group_state in zip(groups, states):
                _, embeddings, group_state = self.network(group, group_state)
                outputs.append(torch.nn.functional.normalize(embeddings.float(), dim=1))
                new_states.append(group_state)
            if self.layout.whole:
                return outputs[0][0].cpu().numpy(), new_states
            return blend_tiles(torch.cat(outputs), self.layout, self.weights).cpu().numpy(), new_states


def _compute(device: str | torch.device, precision: Precision) -> tuple[torch.device, Precision]:
    device = device if isinstance(device, torch.device) else resolve_device(device)
    return device, resolve_precision(precision, device)


def embed_sequence(
    frames: Iterable[np.ndarray],
    network: StackedHourglass,
    device: str | torch.device = "auto",
    precision: Precision = "auto",
    per_forward: int | None = None,
) -> Iterator[np.ndarray]:
    """Normalised frames (H, W) in, (E, H, W) float32 unit-norm embeddings of the second hourglass
    out, one per frame, the recurrent state carried (per tile where the frame is larger than 256x256;
    ``per_forward`` tiles at a time, default: the device's)."""
    device, precision = _compute(device, precision)
    step = _Stepper(network, device, precision, per_forward)
    state = None
    for frame in frames:
        embedding, state = step(step.prepare(frame), state)
        yield embedding


def embed_pairs(
    frames: Iterable[np.ndarray],
    network: StackedHourglass,
    device: str | torch.device = "auto",
    window: RecurrentWindow | None = None,
    precision: Precision = "auto",
    per_forward: int | None = None,
) -> Iterator[np.ndarray]:
    """Embeddings of consecutive normalised frames (H, W) as overlapping (2, E, H, W) pairs (t-1, t), streamed.

    Without ``window`` the state runs through the whole video; a one-frame video gives one
    (1, E, H, W) stack. ``per_forward``: tiles through the network at a time (default: the device's).
    """
    device, precision = _compute(device, precision)
    step = _Stepper(network, device, precision, per_forward)
    recent: deque[torch.Tensor] = deque(maxlen=(window.warmup if window else 0) + 1)
    state, previous, index = None, None, -1
    for index, frame in enumerate(frames):
        tensor = step.prepare(frame)
        embedding, state = step(tensor, state)
        if previous is not None:
            yield np.stack([previous, embedding])
        recent.append(tensor)
        if window and index > 0 and index % window.hop == 0:
            state = None
            for past in recent:
                embedding, state = step(past, state)
        previous = embedding
    if index == 0:
        assert previous is not None  # set by the one frame
        yield previous[None]
