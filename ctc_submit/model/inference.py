"""Loading shipped weights and streaming embeddings over a sequence.

Frames go through the network one at a time with the recurrent state carried, so memory does
not grow with the length of the video.
"""

from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from ctc_submit.io import CTCInputError
from ctc_submit.model.checks import checked_model
from ctc_submit.model.network import StackedHourglass
from ctc_submit.normalize import NETWORK_SIZE, normalize_frame
from ctc_submit.presets import Preset


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; asking for CUDA without one is an input error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CTCInputError("--device cuda: no CUDA device available (use --device cpu or auto)")
    return torch.device(device)


def save_model(path: Path, network: StackedHourglass, card: dict) -> None:
    """Half-precision weights with their config and model card: small enough to ship in the repo."""
    state = {name: tensor.detach().cpu().half() for name, tensor in network.state_dict().items()}
    torch.save({"config": network.config.to_dict(), "card": card, "state_dict": state}, path)


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
    network.eval().to(resolve_device(device), memory_format=torch.channels_last)
    return network, card


def autocast_for(device: torch.device) -> torch.autocast:
    """bf16 autocast: ~2x faster on CPUs with AVX-512 BF16 and on GPUs, same embeddings to ~1e-2."""
    return torch.autocast(device.type, dtype=torch.bfloat16)


@dataclass(frozen=True)
class RecurrentWindow:
    """Restart the recurrent state every ``hop`` frames, warmed up on the ``warmup`` frames before.

    A model trained on short clips has never seen its state run for a whole video and drifts
    after a few dozen frames; restarting keeps the state as young as in training. Pairs never
    straddle a restart, so both frames of a pair always come from the same run of the state.
    """

    hop: int
    warmup: int


class _Stepper:
    """One network step on a raw frame: normalise, resize, run, return (E, 256, 256) and the state."""

    def __init__(self, network: StackedHourglass, preset: Preset, device: torch.device) -> None:
        self.network, self.preset, self.device = network, preset, device

    def prepare(self, image: np.ndarray) -> torch.Tensor:
        normalized = normalize_frame(image, self.preset.low_percentile, self.preset.high_percentile, NETWORK_SIZE)
        return torch.from_numpy(normalized)[None, None].to(self.device).contiguous(memory_format=torch.channels_last)

    def __call__(self, tensor: torch.Tensor, state) -> tuple[np.ndarray, list]:
        _, embeddings, state = self.network(tensor, state)
        return torch.nn.functional.normalize(embeddings.float(), dim=1)[0].cpu().numpy(), state


def embed_sequence(
    images: Iterable[np.ndarray], network: StackedHourglass, preset: Preset, device: str | torch.device = "auto"
) -> Iterator[np.ndarray]:
    """Raw frames in, (E, 256, 256) float32 unit-norm embeddings of the second hourglass out, one per frame."""
    device = device if isinstance(device, torch.device) else resolve_device(device)
    step = _Stepper(network, preset, device)
    state = None
    with torch.inference_mode(), autocast_for(device):
        for image in images:
            embedding, state = step(step.prepare(image), state)
            yield embedding


def embed_pairs(
    images: Iterable[np.ndarray],
    network: StackedHourglass,
    preset: Preset,
    device: str | torch.device = "auto",
    window: RecurrentWindow | None = None,
) -> Iterator[np.ndarray]:
    """Embeddings of consecutive frames as overlapping (2, E, 256, 256) pairs (t-1, t), streamed.

    Without ``window`` the state runs through the whole video; a one-frame video gives one
    (1, E, 256, 256) stack.
    """
    device = device if isinstance(device, torch.device) else resolve_device(device)
    step = _Stepper(network, preset, device)
    recent: deque[torch.Tensor] = deque(maxlen=(window.warmup if window else 0) + 1)
    state, previous, index = None, None, -1
    with torch.inference_mode(), autocast_for(device):
        for index, image in enumerate(images):
            tensor = step.prepare(image)
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
            yield previous[None]
