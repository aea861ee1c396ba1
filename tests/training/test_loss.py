import numpy as np
import torch

from ctc_submit.training.loss import IGNORE, clip_loss, neighbour_matrix


def blobs() -> np.ndarray:
    labels = np.zeros((2, 64, 64), dtype=np.int64)
    labels[:, 5:20, 5:20] = 1
    labels[:, 25:40, 5:20] = 2
    labels[:, 45:60, 45:60] = 3
    labels[:, :, 62:] = IGNORE
    return labels


def embeddings_from(labels: np.ndarray, vectors: torch.Tensor) -> torch.Tensor:
    return vectors[torch.from_numpy(np.clip(labels, 0, None))].permute(0, 3, 1, 2)


def test_perfect_orthogonal_embeddings_cost_nothing():
    labels = blobs()
    assert clip_loss(embeddings_from(labels, torch.eye(16)[:4]), labels, radius=50) < 1e-6


def test_collapsed_embeddings_cost_one_per_instance():
    labels = blobs()
    collapsed = embeddings_from(labels, torch.eye(16)[[0, 0, 0, 0]])
    assert clip_loss(collapsed, labels, radius=50) > 0.99


def test_only_neighbours_are_pushed_apart():
    labels = blobs()
    # 1 and 3 are far apart (> radius) and may share a direction; 1 and 2 may not
    far_shared = embeddings_from(labels, torch.eye(16)[[0, 1, 2, 1]])
    near_shared = embeddings_from(labels, torch.eye(16)[[0, 1, 1, 2]])
    assert clip_loss(far_shared, labels, radius=15) < 1e-6
    # 1 and 2 each see the other's 225 px among ~3.6k neighbour px (mostly background): ~0.06 each
    assert clip_loss(near_shared, labels, radius=15) > 0.02


def test_a_touching_cell_weighs_as_much_as_the_background_when_neighbours_count_once():
    labels = blobs()
    near_shared = embeddings_from(labels, torch.eye(16)[[0, 1, 1, 2]])
    by_pixels = clip_loss(near_shared, labels, radius=15)
    by_instances = clip_loss(near_shared, labels, radius=15, neighbour_weighting="instances")
    # 1 and 2 each have two neighbours, the background (orthogonal) and the other (shared): 1/2 each, 0 for 0 and 3
    assert abs(by_instances - 0.25) < 1e-4
    assert by_instances > 5 * by_pixels


def test_neighbours_are_symmetric_and_respect_radius():
    labels = blobs()
    ids = np.array([0, 1, 2, 3])
    near = neighbour_matrix(labels, ids, radius=15)
    assert (near == near.T).all()
    assert near[1, 2] and not near[1, 3] and near[0, 3]


def test_ignored_pixels_carry_no_gradient():
    labels = blobs()
    raw = torch.randn(2, 16, 64, 64, requires_grad=True)
    clip_loss(torch.nn.functional.normalize(raw, dim=1), labels, radius=50).backward()
    assert raw.grad[:, :, :, 62:].abs().max() == 0
    assert raw.grad[:, :, :, :62].abs().max() > 0
