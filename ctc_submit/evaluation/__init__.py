"""Local scoring with the Cell Tracking Challenge measures (SEG, TRA, DET and derived ones).

In: a result folder (maskNNN.tif + res_track.txt) and the sequence's ground truth folder. Out: the
measures as numbers, computed like the official evaluators (:mod:`~ctc_submit.evaluation.measures`),
or by the official tools where present (:mod:`~ctc_submit.evaluation.official`).
"""

from ctc_submit.evaluation.measures import MEASURES, available_measures, evaluate, locate

__all__ = ["MEASURES", "available_measures", "evaluate", "locate"]
