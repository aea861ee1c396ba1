"""Local scoring with the Cell Tracking Challenge measures (SEG, TRA, DET and derived ones)."""

from ctc_submit.evaluation.measures import MEASURES, available_measures, evaluate, locate

__all__ = ["MEASURES", "available_measures", "evaluate", "locate"]
