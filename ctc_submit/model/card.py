"""The model card: what a trained model says about how it must be run, read and checked in one place.

Training writes the card into the model file (and beside it as JSON). Whoever runs a model --
``ctc-submit run``, the challenge scripts, the Python API, the training's own validation -- gets
the preset and the recurrent window from :class:`ModelCard`, so no caller can forget the values
a model was tuned with. Older cards lack some keys; every key is optional.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from ctc_submit.normalize import NETWORK_SIZE
from ctc_submit.presets import OVERRIDE_LIMITS, Preset, check_overrides, tuned_preset


@dataclass(frozen=True)
class RecurrentWindow:
    """Restart the recurrent state every ``hop`` frames, warmed up on the ``warmup`` frames before.

    A model trained on short clips has never seen its state run for a whole video and drifts
    after a few dozen frames; restarting keeps the state as young as in training. Pairs never
    straddle a restart, so both frames of a pair always come from the same run of the state.
    """

    hop: int
    warmup: int


def whole_number(value: object, smallest: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= smallest


def _percentile(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 100


def _window(value: object) -> RecurrentWindow | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"hop", "warmup"}:
        raise ValueError(f"recurrent_window must be {{'hop': ..., 'warmup': ...}}, got {value!r}")
    if not whole_number(value["hop"], 1) or not whole_number(value["warmup"], 0):
        raise ValueError(f"recurrent_window: hop must be a whole number >= 1 and warmup >= 0, got {value!r}")
    return RecurrentWindow(value["hop"], value["warmup"])


def _normalization(value: object) -> dict[str, float | bool]:
    """A card's normalisation block as preset fields (its ``sigma`` is ``normalization_sigma``, its
    ``network_scale`` the scale the model was trained at); a size this version does not apply is refused."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"normalization must be a mapping, got {value!r}")
    if "size" in value and list(value["size"]) != list(NETWORK_SIZE):
        raise ValueError(
            f"normalization: size = {value['size']!r}; this version's network grid is {list(NETWORK_SIZE)}"
        )
    fields = {name: value[name] for name in ("low_percentile", "high_percentile") if name in value}
    for name, number in fields.items():
        if not _percentile(number) or not math.isfinite(number):
            raise ValueError(f"normalization: {name} must be a number in (0, 100], got {number!r}")
    if "sigma" in value:
        sigma, (_, low, high) = value["sigma"], OVERRIDE_LIMITS["normalization_sigma"]
        if not isinstance(sigma, (int, float)) or isinstance(sigma, bool) or not low <= sigma < high:
            raise ValueError(f"normalization: sigma must be a number in [{low}, {high}), got {sigma!r}")
        fields["normalization_sigma"] = float(sigma)
    if "network_scale" in value:
        scale, (_, low, high) = value["network_scale"], OVERRIDE_LIMITS["network_scale"]
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not low <= scale <= high:
            raise ValueError(f"normalization: network_scale must be a number in [{low}, {high}], got {scale!r}")
        fields["network_scale"] = float(scale)
    log_intensity = value.get("log_intensity", False)  # cards written before the option scaled linearly
    if not isinstance(log_intensity, bool):
        raise ValueError(f"normalization: log_intensity must be true or false, got {log_intensity!r}")
    fields["log_intensity"] = log_intensity
    return fields


@dataclass(frozen=True)
class ModelCard:
    """The card of a model file: the values the run uses, checked, and the whole card as written."""

    dataset: str | None = None
    recurrent_window: RecurrentWindow | None = None
    normalization: Mapping[str, Any] = field(default_factory=dict)  # preset fields, passed to replace()
    preset_overrides: dict[str, Any] = field(default_factory=dict)  # check_overrides() wants a dict
    content: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, card: object) -> ModelCard:
        """Check what the run reads from a card (ValueError naming the key) and keep the rest as written."""
        if not isinstance(card, dict):
            raise ValueError(f"card must be a mapping, got {type(card).__name__}")
        dataset = card.get("dataset")
        if dataset is not None and not isinstance(dataset, str):
            raise ValueError(f"dataset must be a name, got {dataset!r}")
        overrides = card.get("preset_overrides", {})
        try:
            check_overrides(overrides)
        except KeyError as error:
            raise ValueError(error.args[0]) from None
        return cls(
            dataset=dataset,
            recurrent_window=_window(card.get("recurrent_window")),
            normalization=_normalization(card.get("normalization")),
            preset_overrides=dict(overrides),
            content=card,
        )

    def tuned(self, preset: Preset) -> Preset:
        """``preset`` with the card's normalisation (smoothing, percentiles) and its overrides (e.g. its own c).

        How far apart a network pushes neighbouring cells depends on the network, and it saw its
        frames normalised as in training: the card's values win over the paper's table.
        """
        return tuned_preset(replace(preset, **self.normalization), self.preset_overrides)

    def summary(self) -> dict[str, str]:
        """What people ask of a model before using it: network, training data, scores, tuned values."""
        card = self.content
        network = card.get("training", {}).get("network") if isinstance(card.get("training"), dict) else None
        lines = {"dataset": self.dataset or "not stated"}
        if isinstance(network, dict):
            lines["network"] = ", ".join(f"{name} {value}" for name, value in network.items())
        if card.get("sequences"):
            frames = card.get("training_frames") or [f"sequence {name}" for name in card["sequences"]]
            lines["training data"] = "; ".join(map(str, frames))
            if card.get("iterations_done"):
                lines["training data"] += f" ({card['iterations_done']} iterations)"
        if isinstance(card.get("validation"), str):
            lines["validation"] = card["validation"]
        chosen = card.get("chosen_checkpoint")
        if isinstance(chosen, dict):
            scores = [
                f"{name} {chosen[name]:.3f}"
                for name in ("SEG", "TRA", "DET")
                if isinstance(chosen.get(name), (int, float))
            ]
            lines["held-out scores"] = " ".join(scores) + f" (iteration {chosen.get('iteration', '?')})"
        elif isinstance(card.get("final_validation_loss"), (int, float)):
            lines["validation loss"] = f"{card['final_validation_loss']:.3f}"
        tuned = [f"{name} {value:g}" for name, value in self.preset_overrides.items()]
        if self.recurrent_window:
            tuned.append(f"recurrent window {self.recurrent_window.hop},{self.recurrent_window.warmup}")
        if tuned:
            lines["run with"] = ", ".join(tuned)
        return lines
