"""ctc_submit: Cell Tracking Challenge submissions with cosine embeddings and recurrent hourglass networks.

``ctc_submit.load(NAME_OR_FILE)`` gives a :class:`ctc_submit.tracker.Model` whose ``track`` method
writes a CTC result (see the README). They are imported on first use, so that importing the
package (as every ``ctc-submit`` command does) does not import torch.
"""

__version__ = "0.1.0"
__all__ = ["Model", "load", "available_models"]


def __getattr__(name: str):
    if name in ("Model", "load"):
        from ctc_submit import tracker

        return getattr(tracker, name)
    if name == "available_models":
        from ctc_submit.registry import available_models

        return available_models
    raise AttributeError(f"module 'ctc_submit' has no attribute {name!r}")
