"""The Python API: a model asked for by dataset name or file, run with its card's settings.

::

    import ctc_submit

    model = ctc_submit.load("DIC-C2DH-HeLa")                      # or a file: ctc_submit.load("my.pt")
    model.track("DIC-C2DH-HeLa/01", "DIC-C2DH-HeLa/01_RES")       # a folder of tNNN.tif
    model.track(stack, "out/01_RES")                              # or a TIFF stack, or a (T, Y, X) array

``ctc-submit run`` goes through the same :func:`load` and :meth:`Model.track`, so the two write
the same result: the preset tuned by the model's card and its recurrent window, never the
paper's table alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ctc_submit.datasets import DATASETS, SHORT_NAMES
from ctc_submit.frames import FrameSource
from ctc_submit.io import CTCInputError
from ctc_submit.model.card import ModelCard
from ctc_submit.model.compute import Precision, resolve_device, resolve_precision
from ctc_submit.model.inference import load_model
from ctc_submit.model.network import StackedHourglass
from ctc_submit.pipeline import PipelineResult, Progress, core_plan, run_pipeline
from ctc_submit.presets import Preset, get_preset
from ctc_submit.registry import registered_model
from ctc_submit.tracking.clustering import Mode


@dataclass(frozen=True)
class Model:
    """A checked network, its card, and the preset it runs with (the dataset's, tuned by the card)."""

    network: StackedHourglass
    card: ModelCard
    preset: Preset
    path: Path
    device: torch.device

    def track(
        self,
        frames: str | Path | np.ndarray | FrameSource,
        output_dir: str | Path,
        *,
        clustering: Mode = "fast",
        overwrite: bool = False,
        precision: Precision = "auto",
        progress: Progress | None = None,
    ) -> PipelineResult:
        """Segment and track ``frames`` (a folder of ``tNNN.tif``, a multi-page TIFF, a (T, Y, X) array
        or frames already opened) into the CTC result folder ``output_dir``; the cores are shared between the network
        and the clustering as in ``ctc-submit run``."""
        plan = core_plan(str(self.device), network_bound=self.preset.network_scale > 0)
        plan.apply()
        chosen = resolve_precision(precision, self.device)
        result = run_pipeline(
            frames if isinstance(frames, (np.ndarray, FrameSource)) else Path(frames), Path(output_dir), self, clustering, overwrite,
            progress, jobs=plan.clustering_threads, workers=plan.clustering_processes, precision=chosen,
        )  # fmt: skip
        result.precision, result.core_plan = chosen, plan
        return result


def load(model: str | Path, dataset: str | None = None, device: str = "auto") -> Model:
    """A model by dataset name (``"DIC-C2DH-HeLa"`` or ``"DIC-HeLa"``: the shipped or ``$CTC_SUBMIT_MODELS``
    one, checksum checked) or by file; ``dataset`` picks the preset (default: the name asked for, else
    the dataset the card names)."""
    if isinstance(model, str) and model in {*DATASETS, *SHORT_NAMES}:
        path = registered_model(model).checked_path()
        dataset = dataset or model
    else:
        path = Path(model)
    network, saved_card = load_model(path, device)
    card = ModelCard.from_dict(saved_card)
    dataset = dataset or card.dataset
    if dataset is None:
        raise CTCInputError(f"{path}: its card names no dataset; name the dataset to pick the preset", "dataset")
    return Model(network, card, card.tuned(get_preset(dataset)), path, resolve_device(device))
