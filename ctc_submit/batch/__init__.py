"""Many sequences at once: one ``ctc-submit run`` per sequence, each a task on dask.distributed.

In: a manifest of sequence folders (:mod:`~ctc_submit.batch.manifest`) and a cluster (local, a
scheduler address or SLURM, :mod:`~ctc_submit.batch.cluster`). Out: one result folder with its run
report per sequence, and a summary of the outcomes (:mod:`~ctc_submit.batch.summary`).
"""
