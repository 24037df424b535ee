"""The paper's training schemes produce the splits they name."""
import pytest

from recurrent_sim.training.schemes import SCHEME_NAMES, Scheme, StepPlan


@pytest.mark.parametrize(
    "name, pattern",
    [
        ("0", "O" * 15),
        ("33", "O" * 10 + "P" * 5),
        ("46-alt", "OPOPOPOPOPOPOPO"),
        ("46", "O" * 8 + "P" * 7),
        ("67", "O" * 5 + "P" * 10),
        ("100", "P" * 15),
    ],
)
def test_fixed_schemes_give_the_paper_patterns(name, pattern):
    scheme = Scheme(name)
    for update in (0, 1, 5000, 10**6):
        plan = scheme.plan(update)
        assert plan.pattern == pattern
        assert plan.warmup == 10 and plan.chunk == 15
        assert plan.sequence_length == 26 == scheme.sequence_length


@pytest.mark.parametrize(
    "name, share", [("0", 0.0), ("33", 1 / 3), ("46-alt", 7 / 15), ("46", 7 / 15), ("67", 2 / 3), ("100", 1.0)]
)
def test_prediction_shares_match_the_names(name, share):
    assert Scheme(name).prediction_share(0) == pytest.approx(share)


def test_curriculum_0_20_33_moves_at_its_boundaries():
    scheme = Scheme("0-20-33", boundaries=(3, 7))
    patterns = [scheme.plan(u).pattern for u in range(9)]
    assert patterns[:3] == ["O" * 15] * 3
    assert patterns[3:7] == ["O" * 12 + "P" * 3] * 4
    assert patterns[7:] == ["O" * 10 + "P" * 5] * 2
    assert Scheme("0-20-33").stage_boundaries == (1000, 2000)


def test_curriculum_0_100_is_observed_then_predicted_only():
    scheme = Scheme("0-100")
    assert scheme.plan(999).pattern == "O" * 15
    assert scheme.plan(1000).pattern == "P" * 15


def test_truncated_bptt_scales_the_pattern_and_keeps_chunks_of_15():
    plan = Scheme("33", chunks=2).plan(0)
    assert plan.pattern == "O" * 20 + "P" * 10 and plan.chunk == 15
    assert Scheme("33", chunks=5).sequence_length == 10 + 75 + 1
    assert Scheme("46-alt", chunks=2).plan(0).pattern == "OPOPOPOPOPOPOPO" * 2


def test_bad_schemes_are_refused():
    with pytest.raises(ValueError, match="unknown scheme"):
        Scheme("50")
    with pytest.raises(ValueError, match="needs 2 boundaries"):
        Scheme("0-20-33", boundaries=(5,))
    with pytest.raises(ValueError, match="increasing"):
        Scheme("0-20-33", boundaries=(5, 5))
    with pytest.raises(ValueError, match="chunks"):
        Scheme("33", chunks=0)
    with pytest.raises(ValueError, match="warm-up"):
        StepPlan(0, "PO", 2)


def test_every_name_builds():
    for name in SCHEME_NAMES:
        assert len(Scheme(name).plan(10**7).pattern) == 15


def test_contiguous_plan_is_the_classic_split():
    plan = StepPlan.contiguous(15, 10, 10)
    assert plan.pattern == "O" * 10 + "P" * 10 and plan.chunk == 20 and plan.sequence_length == 36
