"""Reward, episode-end and drift figures on cases worked out by hand."""
import numpy as np
import pytest

from recurrent_sim.evaluation.head_metrics import (
    accuracy,
    confusion,
    head_figures,
    majority_accuracy,
    precision_recall,
    ranks,
    spearman,
)


def test_confusion_accuracy_and_majority_baseline():
    matrix = confusion([1, 1, 1, 2, 0, 1], [1, 2, 1, 2, 1, 1])
    np.testing.assert_array_equal(matrix, [[0, 1, 0], [0, 3, 1], [0, 0, 1]])
    assert accuracy(matrix) == pytest.approx(4 / 6)
    assert majority_accuracy(matrix) == pytest.approx(4 / 6)  # always "zero": 4 of 6
    assert np.isnan(accuracy(np.zeros((3, 3))))


def test_precision_recall():
    assert precision_recall([1, 0, 1, 0], [1, 1, 0, 0]) == pytest.approx((0.5, 0.5, 0.5))
    assert precision_recall([1, 0, 0], [0, 0, 0]) == (0.0, 0.0, 0.0)
    assert precision_recall([1, 1, 0], [1, 1, 0]) == (1.0, 1.0, 1.0)


def test_spearman_ranks_with_ties():
    np.testing.assert_array_equal(ranks([10, 20, 20, 5]), [2, 3.5, 3.5, 1])
    assert spearman([1, 2, 3, 4], [10, 20, 25, 100]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_head_figures_per_step_and_overall_with_a_cut_sequence():
    valid = np.array([[True, True], [True, False]])  # the second sequence's episode ended at step 1
    figures = head_figures(
        valid=valid,
        true_rewards=np.array([[1, 2], [0, 1]]),
        predicted_rewards=np.array([[1, 2], [1, 0]]),  # the masked step's wrong class does not count
        true_ends=np.array([[False, False], [True, True]]),
        done_probabilities=np.array([[0.1, 0.2], [0.9, 0.0]]),
        error_estimates=np.array([[1.0, 3.0], [2.0, 0.0]]),
        true_errors=np.array([[0.1, 0.3], [0.2, 5.0]]),
    )
    per_step, overall = figures["per_step"], figures["overall"]
    assert per_step["steps"] == [2, 1]
    assert per_step["reward_accuracy"] == [0.5, 1.0]
    assert per_step["reward_baseline_accuracy"] == [0.5, 1.0]
    assert per_step["done_precision"] == [1.0, 0.0] and per_step["done_recall"] == [1.0, 0.0]
    assert overall["steps"] == 3 and overall["reward_accuracy"] == pytest.approx(2 / 3)
    assert overall["reward_confusion"] == [[0, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert overall["done_precision"] == 1.0 and overall["done_recall"] == 1.0
    assert overall["done_counts"] == {"true": 1, "predicted": 1, "hits": 1}
    assert overall["drift_spearman"] == pytest.approx(1.0)  # the masked (0.0, 5.0) pair is left out
