"""Best-matching clustering accuracy."""

import numpy as np
import pytest
import torch

from genzoo.evaluation.clustering import (
    cluster_to_label_map,
    clustering_accuracy,
    code_clustering_accuracy,
    encoded_clustering_accuracy,
)


def test_a_permuted_labelling_scores_one():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=500)
    perm = rng.permutation(10)
    assert clustering_accuracy(perm[labels], labels) == 1.0
    assert clustering_accuracy(torch.as_tensor(perm[labels] + 20), torch.as_tensor(labels)) == 1.0


def test_hungarian_match_is_one_to_one():
    labels = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([5, 5, 5, 5, 5, 7])  # cluster 5 holds most of 0 and all of 1
    mapping = cluster_to_label_map(pred, labels)
    assert mapping == {5: 0, 7: 2}
    assert clustering_accuracy(pred, labels) == pytest.approx(4 / 6)


def test_more_clusters_than_classes_map_to_majority_labels():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    pred = np.array([0, 0, 1, 1, 2, 2, 3, 3])  # each class split over two clusters
    assert clustering_accuracy(pred, labels) == 1.0
    assert clustering_accuracy(pred, labels, one_to_one=True) == 0.5


def test_random_clusters_score_near_chance():
    rng = np.random.default_rng(1)
    labels, pred = rng.integers(0, 10, 2000), rng.integers(0, 10, 2000)
    # best match of independent labellings stays near 1/10 (a little above from the matching)
    assert 0.08 < clustering_accuracy(pred, labels) < 0.2


def test_kmeans_on_separated_codes_recovers_classes():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(300) % 3
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    codes = centres[labels] + 0.5 * torch.randn(300, 2, generator=g)
    assert code_clustering_accuracy(codes, labels) == 1.0

    class Enc(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def encode(self, x):
            return x.flatten(1) * self.w

    assert encoded_clustering_accuracy(Enc(), codes.view(300, 1, 1, 2), labels) == 1.0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="length"):
        clustering_accuracy([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="1-d"):
        clustering_accuracy(np.zeros((2, 2)), np.zeros((2, 2)))


def test_models_with_a_discrete_code_are_scored_on_it():
    class QHead(torch.nn.Module):
        """InfoGAN stand-in: infer_codes returns (categorical guess, continuous means)."""

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def infer_codes(self, x):
            return (x.flatten(1)[:, 0] * self.w).round().long(), torch.zeros(len(x), 2)

    labels = torch.arange(90) % 3
    x = ((labels + 1) % 3).float().view(-1, 1, 1, 1)  # the code is a permutation of the label
    assert encoded_clustering_accuracy(QHead(), x, labels) == 1.0
