"""The shipped models, installed as the package ``ctc_submit.models``: see ``ctc_submit/registry.py``."""
