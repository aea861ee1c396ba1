"""ctc_submit: Cell Tracking Challenge submissions with cosine embeddings and recurrent hourglass networks."""

__version__ = "0.1.0"
