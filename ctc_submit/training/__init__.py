"""Training the network on CTC training sequences.

In: sequence folders with their ground truth (GT and silver truth masks), a dataset's
:class:`ctc_submit.presets.Preset`. Out: checkpoints, and a model file with its card
(:mod:`ctc_submit.model.card`), chosen by the pipeline's score on held-out frames
(:mod:`~ctc_submit.training.validation`). Data and augmentation (:mod:`~ctc_submit.training.data`,
:mod:`~ctc_submit.training.augment`), the loss (:mod:`~ctc_submit.training.loss`), the loop
(:mod:`~ctc_submit.training.trainer`).
"""
