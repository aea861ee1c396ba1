"""Many sequences at once: one ``ctc-submit run`` per sequence, each a task on dask.distributed."""
