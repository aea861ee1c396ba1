"""Broken model files, one per way a file can be wrong, with a fragment of the one line each must give."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable

import torch

from ctc_submit.model.inference import save_model
from ctc_submit.model.network import NetworkConfig, StackedHourglass


def saved_tiny() -> dict:
    torch.manual_seed(0)
    network = StackedHourglass(NetworkConfig(filters=4, levels=3))
    state = {name: tensor.detach().half() for name, tensor in network.state_dict().items()}
    return {"config": network.config.to_dict(), "card": {"dataset": "DIC-C2DH-HeLa"}, "state_dict": state}


def edited(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        saved = saved_tiny()
        change(saved)
        torch.save(saved, path)

    return write


def first_weight(saved: dict) -> torch.Tensor:
    return next(iter(saved["state_dict"].values()))


# One row per broken model: how it is broken, what the error must say.
# fmt: off
BAD_MODELS: dict[str, tuple[Callable[[Path], None], str]] = {
    "random bytes": (lambda path: path.write_bytes(os.urandom(2000)), "torch cannot load it"),
    "empty file": (lambda path: path.write_bytes(b""), "torch cannot load it"),
    "a list": (lambda path: torch.save([1, 2], path), "needs config, card, state_dict; has list"),
    "wrong keys": (lambda path: torch.save({"model": {}, "weights": {}}, path), "needs config, card, state_dict"),
    "missing card": (edited(lambda saved: saved.pop("card")), "has config, state_dict"),
    "levels 0": (edited(lambda saved: saved["config"].update(levels=0)), "levels must be a whole number >= 1"),
    "filters 2.5": (edited(lambda saved: saved["config"].update(filters=2.5)), "filters must be a whole number"),
    "levels 40": (edited(lambda saved: saved["config"].update(levels=40)), "at most 8 fit"),
    "stateless levels -1": (edited(lambda saved: saved["config"].update(stateless_levels=-1)), "stateless_levels must be a whole number >= 0"),
    "every level stateless": (edited(lambda saved: saved["config"].update(stateless_levels=3)), "at least one of the 3 levels"),
    "unknown config field": (edited(lambda saved: saved["config"].update(depth=3)), "unknown field(s) depth"),
    "other architecture": (edited(lambda saved: saved["config"].update(filters=8)), "has shape (4, 1, 3, 3), the config needs (8, 1, 3, 3)"),
    "missing weight": (edited(lambda saved: saved["state_dict"].popitem()), "1 missing"),
    "card c text": (edited(lambda saved: saved["card"].update(preset_overrides={"c": "abc"})), "c must be a finite float, got 'abc'"),
    "card c infinite": (edited(lambda saved: saved["card"].update(preset_overrides={"c": math.inf})), "c must be a finite float"),
    "card m_pts 0": (edited(lambda saved: saved["card"].update(preset_overrides={"m_pts": 0})), "m_pts = 0 is out of range"),
    "card unknown field": (edited(lambda saved: saved["card"].update(preset_overrides={"speed": 1})), "unknown preset field(s) in the model card: speed"),
    "card not a mapping": (edited(lambda saved: saved.update(card="DIC")), "card must be a mapping"),
    "window hop 0": (edited(lambda saved: saved["card"].update(recurrent_window={"hop": 0, "warmup": 1})), "hop must be a whole number >= 1"),
    "window bad keys": (edited(lambda saved: saved["card"].update(recurrent_window={"every": 3})), "recurrent_window must be"),
    "card sigma negative": (edited(lambda saved: saved["card"].update(normalization={"sigma": -1.0})), "sigma must be a number in [0.0, inf), got -1.0"),
    "card percentile 0": (edited(lambda saved: saved["card"].update(normalization={"low_percentile": 0})), "low_percentile must be a number in (0, 100]"),
    "card network scale 5": (edited(lambda saved: saved["card"].update(normalization={"network_scale": 5})), "network_scale must be a number in [0.0, 4.0], got 5"),
    "card log intensity text": (edited(lambda saved: saved["card"].update(normalization={"log_intensity": "yes"})), "log_intensity must be true or false, got 'yes'"),
    "card dataset a number": (edited(lambda saved: saved["card"].update(dataset=3)), "dataset must be a name"),
    "NaN weight": (edited(lambda saved: first_weight(saved).fill_(math.nan)), "not finite numbers"),
    "infinite weight": (edited(lambda saved: first_weight(saved).fill_(math.inf)), "not finite numbers"),
}
# fmt: on


def write_good_model(path: Path) -> Path:
    torch.manual_seed(0)
    save_model(path, StackedHourglass(NetworkConfig(filters=4, levels=3)), {"dataset": "DIC-C2DH-HeLa"})
    return path
