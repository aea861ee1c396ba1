"""Every model file checked on load: format, network config, model card, weights.

A model file comes from training runs, downloads and hand edits; whatever is wrong with it must
be one line naming the file, found before any frame is processed -- never a traceback half-way,
and never NaN weights that quietly give an empty result.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import torch

from ctc_submit.io import CTCInputError
from ctc_submit.model.card import ModelCard, whole_number
from ctc_submit.model.network import NetworkConfig, StackedHourglass
from ctc_submit.normalize import NETWORK_SIZE

PARTS = ("config", "card", "state_dict")
MAX_LEVELS = min(NETWORK_SIZE).bit_length() - 1  # each level halves the 256 px grid


def check_config(config: object) -> NetworkConfig:
    """Architecture numbers: whole numbers in range; the input is one grayscale channel."""
    if not isinstance(config, dict):
        raise ValueError(f"config must be a mapping, got {type(config).__name__}")
    known = {field.name for field in fields(NetworkConfig)}
    unknown = sorted(set(config) - known, key=str)
    if unknown:
        raise ValueError(f"config: unknown field(s) {', '.join(map(str, unknown))}")
    for name, value in config.items():
        smallest = 0 if name == "stateless_levels" else 1
        if not whole_number(value, smallest):
            raise ValueError(f"config: {name} must be a whole number >= {smallest}, got {value!r}")
    network = NetworkConfig(**config)
    if network.stateless_levels >= network.levels:
        raise ValueError(
            f"config: stateless_levels = {network.stateless_levels}, at least one of the {network.levels} levels "
            "must carry the recurrent state"
        )
    if network.levels > MAX_LEVELS:
        raise ValueError(f"config: levels = {network.levels}, at most {MAX_LEVELS} fit a {NETWORK_SIZE[0]} px grid")
    if network.input_channels != 1:
        raise ValueError(f"config: input_channels = {network.input_channels}; frames have one channel")
    return network


def check_weights(state: object, network: StackedHourglass) -> dict[str, torch.Tensor]:
    """Weights of the right names and shapes for the config, every value finite; returned as float32."""
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ValueError("state_dict must map parameter names to tensors")
    expected = network.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected), key=str)
    if missing or unexpected:
        parts = [f"{len(missing)} missing (e.g. {missing[0]})"] if missing else []
        parts += [f"{len(unexpected)} unexpected (e.g. {unexpected[0]})"] if unexpected else []
        raise ValueError(f"weights do not match the config: {', '.join(parts)}")
    for name, tensor in state.items():
        if tensor.shape != expected[name].shape:
            shape, wanted = tuple(tensor.shape), tuple(expected[name].shape)
            raise ValueError(f"weights do not match the config: {name} has shape {shape}, the config needs {wanted}")
        if not tensor.is_floating_point() or not torch.isfinite(tensor).all():
            raise ValueError(f"weights: {name} holds values that are not finite numbers (NaN or infinity)")
    return {name: tensor.float() for name, tensor in state.items()}


def checked_model(saved: object, path: Path) -> tuple[StackedHourglass, dict]:
    """The network and card of a loaded model file, or :class:`CTCInputError` saying what is wrong."""
    if not isinstance(saved, dict) or not set(PARTS) <= set(saved):
        present = ", ".join(sorted(map(str, saved))) if isinstance(saved, dict) else type(saved).__name__
        raise CTCInputError(f"{path}: not a ctc_submit model (needs {', '.join(PARTS)}; has {present})")
    try:
        network = StackedHourglass(check_config(saved["config"]))
        ModelCard.from_dict(saved["card"])
        network.load_state_dict(check_weights(saved["state_dict"], network))
    except ValueError as error:
        raise CTCInputError(f"{path}: {error}") from None
    return network, {**saved["card"], **saved["config"]}
