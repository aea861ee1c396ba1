"""From embeddings to CTC-consistent tracks, the stages after the network, in the order they run.

In: the network's per-pixel embeddings of consecutive frames, (k, E, H, W) on the network grid
(256x256, or the frame at the preset's network_scale), and a :class:`ctc_submit.presets.Preset`. Out: label images at the original frame size and the tracks
(:class:`ctc_submit.io.Track`) that ``res_track.txt`` lists.

1. :mod:`~ctc_submit.tracking.clustering`: HDBSCAN on each overlapping frame pair gives instance
   labels that one object shares in both frames.
2. :mod:`~ctc_submit.tracking.merge`: the pairs chained into running labels by IoU on their shared frame.
3. :mod:`~ctc_submit.tracking.lineage`: tracks, parents, divisions, gaps and the CTC consistency rules.
4. :mod:`~ctc_submit.tracking.upsample`: labels back from the network grid to the frame size.
5. :mod:`~ctc_submit.tracking.intensity`: for fluorescence, where the preset says so, each mask
   trimmed to the pixels brighter than the background.

:mod:`ctc_submit.pipeline` chains them with the reading, the network and the writing.
"""
