"""IoU merge of clustered frame pairs on small hand-made label arrays."""

from __future__ import annotations

import numpy as np
import pytest

from ctc_submit.overlap import overlap
from ctc_submit.tracking.merge import match_labels, merge_pairs


def boxes(shape: tuple[int, int], *objects: tuple[int, int, int, int, int]) -> np.ndarray:
    """A label image with (label, row, col, height, width) rectangles."""
    frame = np.zeros(shape, dtype=np.int32)
    for label, row, col, height, width in objects:
        frame[row : row + height, col : col + width] = label
    return frame


def test_labelled_ious_lists_every_overlapping_pair_with_its_iou():
    first = boxes((4, 8), (1, 0, 0, 4, 4), (2, 0, 4, 4, 4))
    second = boxes((4, 8), (5, 0, 2, 4, 4))
    a, b, ious = overlap(first, second).labelled_ious()
    assert a.tolist() == [1, 2] and b.tolist() == [5, 5]
    assert ious == pytest.approx([8 / 24, 8 / 24])


def test_matching_is_greedy_one_to_one_and_stops_below_the_threshold():
    reference = boxes((10, 20), (1, 0, 0, 10, 10), (2, 0, 10, 10, 10))
    labels = boxes((10, 20), (7, 0, 0, 10, 9), (8, 0, 9, 10, 2), (9, 0, 14, 10, 6))
    # 7~1 (0.9) wins; 8 overlaps 1 and 2 a little; 9~2 (0.6) wins 2; 8 is left unmatched.
    assert match_labels(reference, labels) == {7: 1, 9: 2}
    assert match_labels(reference, labels, min_iou=0.7) == {7: 1}


def test_merge_carries_ids_forward_and_gives_new_objects_new_ids():
    shape = (8, 16)
    pairs = [
        np.stack([boxes(shape, (3, 0, 0, 4, 4)), boxes(shape, (3, 0, 1, 4, 4), (4, 4, 10, 4, 4))]),
        # the same two cells, clustered with other IDs in the next pair; a third appears
        np.stack(
            [
                boxes(shape, (1, 0, 1, 4, 4), (2, 4, 10, 4, 4)),
                boxes(shape, (1, 0, 2, 4, 4), (2, 4, 11, 4, 4), (6, 4, 0, 2, 2)),
            ]
        ),
    ]
    frames = list(merge_pairs(pairs))
    assert len(frames) == 3
    first_cell, second_cell = frames[1][0, 1], frames[1][4, 10]
    assert frames[0][0, 0] == first_cell and first_cell != second_cell
    assert frames[2][0, 2] == first_cell and frames[2][4, 11] == second_cell
    assert frames[2][4, 0] not in (0, first_cell, second_cell)


def test_an_object_that_jumps_too_far_becomes_a_new_id():
    shape = (4, 20)
    pairs = [
        np.stack([boxes(shape, (1, 0, 0, 4, 4)), boxes(shape, (1, 0, 0, 4, 4))]),
        np.stack([boxes(shape, (2, 0, 3, 4, 4)), boxes(shape, (2, 0, 3, 4, 4))]),  # IoU 4/28 < 0.25
    ]
    frames = list(merge_pairs(pairs))
    assert frames[2][0, 3] != frames[1][0, 0]


def test_a_one_frame_sequence_is_a_one_frame_stack():
    frame = boxes((4, 4), (9, 0, 0, 2, 2))
    (result,) = merge_pairs([frame[None]])
    assert result[0, 0] == 1 and (result > 0).sum() == 4


def test_later_stacks_must_be_pairs():
    frame = boxes((4, 4), (1, 0, 0, 2, 2))
    with pytest.raises(ValueError, match="pair"):
        list(merge_pairs([np.stack([frame, frame]), np.stack([frame, frame, frame])]))


def test_lookahead_is_each_frame_as_the_next_pair_sees_it_in_the_next_frames_labels():
    shape = (8, 16)
    whole, left, right = (5, 0, 0, 8, 8), (5, 0, 0, 8, 4), (6, 0, 4, 8, 4)
    pairs = [
        np.stack([boxes(shape, whole), boxes(shape, whole)]),
        # the next pair splits frame 1's cell beside the two cells of frame 2
        np.stack([boxes(shape, left, right), boxes(shape, left, right)]),
        np.stack([boxes(shape, left, right), boxes(shape, left)]),
    ]
    lookahead: list[np.ndarray] = []
    frames = list(merge_pairs(pairs, lookahead=lookahead))
    assert len(lookahead) == len(frames) == 4
    np.testing.assert_array_equal(lookahead[0], frames[0])  # the first stack's own frame
    assert frames[1][0, 0] == frames[1][0, 7]  # kept whole
    np.testing.assert_array_equal(lookahead[1], frames[2])  # split, in frame 2's labels
    assert lookahead[2][0, 0] == frames[3][0, 0] and lookahead[2][0, 7] == 0  # the right cell ends
    np.testing.assert_array_equal(lookahead[3], frames[3])  # the last frame is its own


def test_the_running_labels_do_not_depend_on_the_lookahead():
    shape = (4, 8)
    pairs = [np.stack([boxes(shape, (1, 0, 0, 4, 4))] * 2), np.stack([boxes(shape, (2, 0, 1, 4, 4))] * 2)]
    plain = list(merge_pairs(pairs))
    looked = list(merge_pairs(pairs, lookahead=[]))
    for one, other in zip(plain, looked):
        np.testing.assert_array_equal(one, other)
