"""The golden cases of shared/eval-fixtures: small results with the official evaluators' verdicts.

Listed, not discovered, so that a case missing from the fixtures fails instead of being skipped.
"""

GOLDEN_CASES = [
    "B50", "B51", "D3", "R0_perfect", "R1_missEdge_FP", "R2_merge_NS", "R3_relabel_EC",
    "bad_declared_not_present", "bad_disconnected_label", "bad_empty_frame", "bad_end_before_begin",
    "bad_extra_columns", "bad_extra_res_frame", "bad_float_masks", "bad_four_digits", "bad_gap",
    "bad_gap_with_parent", "bad_int16_masks", "bad_int32_masks", "bad_label_reuse_no_parent",
    "bad_missing_mask", "bad_missing_parent", "bad_missing_track_file", "bad_negative_parent",
    "bad_parent_overlap", "bad_tab_sep", "bad_track_beyond_seq", "bad_trailing_blank_lines",
    "bad_uint32_masks", "bad_uint8_masks", "bad_undeclared", "bad_wrong_size",
    "tif_bigendian", "tif_extra_dim", "tif_imagej", "tif_lzw", "tif_packbits", "tif_zlib", "tif_zstd",
    "ws_blank_line_middle", "ws_comment_header", "ws_leading_space", "ws_multi_spaces",
    "ws_no_final_newline", "ws_one_blank_line", "ws_trailing_space", "ws_unsorted",
]  # fmt: skip
