"""Models by dataset name: the shipped ones, and those of the folder named by ``CTC_SUBMIT_MODELS``.

As in stardist, cellpose and trackastra, a model is asked for by name and the package knows where
it lives and what its file must hash to. The shipped weights and cards stay in the project's
top-level ``models/`` folder, which is installed as the package ``ctc_submit.models``; its
``registry.json`` maps each dataset to its file, the file's sha256 and its card. A folder named by
``CTC_SUBMIT_MODELS`` adds or replaces models: its own ``registry.json`` if it has one, else every
``DATASET.pt`` in it (with ``DATASET.json``, the card training writes beside it, when present).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Mapping

from ctc_submit.datasets import DATASETS, SHORT_NAMES, dataset_named
from ctc_submit.io import CTCInputError, file_sha256
from ctc_submit.model.card import ModelCard

ENVIRONMENT = "CTC_SUBMIT_MODELS"
INDEX = "registry.json"
SHIPPED = "shipped"
# Running from a checkout that is on sys.path but not installed: the package is the models/ folder itself.
CHECKOUT_MODELS = Path(__file__).resolve().parents[1] / "models"


@dataclass(frozen=True)
class RegisteredModel:
    """One dataset's model: where its file is, what it must hash to, its card, where it came from."""

    dataset: str
    path: Path
    sha256: str | None
    card_path: Path | None
    origin: str  # "shipped", or the CTC_SUBMIT_MODELS folder

    def checked_path(self) -> Path:
        """The model file, once it is there and matches its registered checksum."""
        if not self.path.is_file():
            raise CTCInputError(f"{self.path}: model file of {self.dataset} ({self.origin}) not found")
        if self.sha256 and file_sha256(self.path) != self.sha256.lower():
            raise CTCInputError(
                f"{self.path}: sha256 differs from the registry's {self.sha256[:12]}... "
                f"(the file of the {self.dataset} model is damaged or was replaced; reinstall or fix {INDEX})"
            )
        return self.path

    def card(self) -> ModelCard:
        """The card from its JSON file (no torch needed), else from inside the model file."""
        try:
            if self.card_path is not None and self.card_path.is_file():
                return ModelCard.from_dict(json.loads(self.card_path.read_text()))
            from ctc_submit.model.inference import load_model

            return ModelCard.from_dict(load_model(self.checked_path(), "cpu")[1])
        except (ValueError, OSError) as error:
            raise CTCInputError(f"{self.card_path or self.path}: unreadable model card ({error})") from None


def shipped_folder() -> Path:
    """Where the shipped models are: the installed package ``ctc_submit.models``, or a checkout's ``models/``."""
    try:
        return Path(str(resources.files("ctc_submit.models")))
    except ModuleNotFoundError:
        return CHECKOUT_MODELS


def _entry(folder: Path, dataset: str, entry: object, origin: str) -> RegisteredModel:
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise CTCInputError(f'{folder / INDEX}: entry {dataset!r} needs at least {{"file": NAME.pt}}')
    card = entry.get("card")
    return RegisteredModel(
        dataset_named(dataset).name,
        folder / entry["file"],
        entry.get("sha256"),
        folder / card if card else None,
        origin,
    )


def registered_in(folder: Path, origin: str) -> dict[str, RegisteredModel]:
    """The models of one folder: its ``registry.json``, else its ``DATASET.pt`` files."""
    index = folder / INDEX
    if index.is_file():
        try:
            entries = json.loads(index.read_text())
        except (ValueError, OSError) as error:
            raise CTCInputError(f"{index}: unreadable model registry ({error})") from None
        if not isinstance(entries, dict):
            raise CTCInputError(f"{index}: expected a mapping of dataset names to model entries")
        models = [_entry(folder, dataset, entry, origin) for dataset, entry in entries.items()]
    else:
        known = {*DATASETS, *SHORT_NAMES}
        models = [
            RegisteredModel(dataset_named(path.stem).name, path, None, path.with_suffix(".json"), origin)
            for path in sorted(folder.glob("*.pt"))
            if path.stem in known
        ]
    return {model.dataset: model for model in models}


def available_models(environ: Mapping[str, str] = os.environ) -> dict[str, RegisteredModel]:
    """Every model by dataset: the shipped ones, replaced or completed by those of ``CTC_SUBMIT_MODELS``."""
    models = registered_in(shipped_folder(), SHIPPED)
    extra = environ.get(ENVIRONMENT)
    if extra:
        folder = Path(extra)
        if not folder.is_dir():
            raise CTCInputError(f"{ENVIRONMENT}={extra}: not a folder")
        models.update(registered_in(folder, f"{ENVIRONMENT} ({folder})"))
    return dict(sorted(models.items()))


def registered_model(name: str, environ: Mapping[str, str] = os.environ) -> RegisteredModel:
    """The model registered for a dataset (challenge or short name); none is an input error saying what to do."""
    dataset = dataset_named(name).name
    models = available_models(environ)
    if dataset not in models:
        have = ", ".join(models) or "none"
        raise CTCInputError(
            f"no model for {dataset} (available: {have}); train one and give its path as the model, "
            f"or put it in ${ENVIRONMENT}",
            "model",
        )
    return models[dataset]
