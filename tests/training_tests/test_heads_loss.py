"""The heads learn from the trained steps of a sequence, with their own weights beside the frame loss."""
import numpy as np
import pytest

from recurrent_sim.data.buffer import SequenceBatch
from recurrent_sim.models import build_simulator, simulator_config
from recurrent_sim.training.heads_loss import HeadWeights
from recurrent_sim.training.losses import DEFAULT_LOSS, INDEPENDENT_LOSS, REFERENCE_LOSS, get_loss
from recurrent_sim.training.sequence_loss import SequenceSchedule, sequence_loss
from recurrent_sim.utils.errors import UserError

SIZE = 32
SPLIT = SequenceSchedule(1, 2, 2)


def simulator(architecture="paper", heads=True):
    np.random.seed(0)
    sim = build_simulator(simulator_config(architecture, frame_shape=(SIZE, SIZE), n_actions=3, hidden_size=8,
                                           encoding_size=16, heads=heads))
    sim.set_mean_image(np.zeros((1, SIZE, SIZE), dtype=np.uint8))
    return sim


def batch(rewards=None, ends=None):
    rng = np.random.RandomState(0)
    frames = rng.randint(0, 255, (2, SPLIT.sequence_length, SIZE, SIZE)).astype(np.uint8)
    actions = rng.randint(0, 3, (2, SPLIT.sequence_length - 1)).astype(np.int32)
    if rewards is None:
        rewards = np.array([[0, 1, 0, -1, 0], [0, 0, 2, 0, 1]], dtype=np.float32)
    if ends is None:
        ends = np.zeros((2, 5), dtype=bool)
        ends[1, 4] = True
    return SequenceBatch(frames, actions, rewards, np.zeros(2, dtype=np.int64), ends)


def loss_of(sim, weights=HeadWeights(1.0, 1.0, 1.0), name=DEFAULT_LOSS, data=None):
    sim.cleargrads()
    loss, metrics = get_loss(name).function(SPLIT, weights)(sim, data or batch())
    loss.backward()
    return loss, metrics


@pytest.mark.parametrize("architecture,name", [("paper", DEFAULT_LOSS), ("skip", DEFAULT_LOSS),
                                               ("independent", INDEPENDENT_LOSS)])
def test_heads_get_gradients_and_report_their_metrics(architecture, name):
    sim = simulator(architecture)
    loss, metrics = loss_of(sim, name=name)
    for key in ("reward_loss", "done_loss", "error_loss", "reward_accuracy"):
        assert np.isfinite(metrics[key])
    for link in (sim.state_heads.reward, sim.state_heads.done, sim.state_heads.log_error):
        assert np.abs(link.W.grad).sum() > 0
    # "error" stays the frame loss alone: the heads add to the optimised loss only.
    assert float(loss.array) > metrics["error"]


def test_zero_weights_leave_the_heads_untrained_and_the_frame_loss_unchanged():
    sim = simulator()
    loss, metrics = loss_of(sim, HeadWeights(0.0, 0.0, 0.0))
    assert float(loss.array) == pytest.approx(metrics["error"], rel=1e-6)
    assert np.abs(sim.state_heads.reward.W.grad).sum() == 0
    data = batch()
    frames_only = sequence_loss(sim, data.frames, data.actions, SPLIT)  # no head targets: the frame loss
    assert float(frames_only.loss.array) == pytest.approx(metrics["error"], rel=1e-6)
    _, plain_metrics = loss_of(simulator(heads=False))
    assert "reward_loss" not in plain_metrics


def test_targets_are_the_trained_steps_rewards_and_ends():
    sim = simulator()
    weights = HeadWeights(1.0, 0.0, 0.0)
    # warm-up step 0 has a huge reward that must not count: only steps 1..4 are trained
    _, base = loss_of(sim, weights, data=batch(rewards=np.array([[9, 0, 0, 0, 0], [9, 0, 0, 0, 0]], np.float32)))
    _, same = loss_of(sim, weights, data=batch(rewards=np.array([[-9, 0, 0, 0, 0], [0, 0, 0, 0, 0]], np.float32)))
    assert base["reward_loss"] == pytest.approx(same["reward_loss"], rel=1e-6)
    _, other = loss_of(sim, weights, data=batch(rewards=np.array([[0, 0, 0, 0, 1], [0, 0, 0, 0, 0]], np.float32)))
    assert other["reward_loss"] != pytest.approx(same["reward_loss"], rel=1e-4)
    # the episode-end loss is the sigmoid cross-entropy of the trained steps' flags
    _, no_end = loss_of(sim, HeadWeights(0.0, 1.0, 0.0), data=batch(ends=np.zeros((2, 5), bool)))
    _, an_end = loss_of(sim, HeadWeights(0.0, 1.0, 0.0))
    assert an_end["done_loss"] != pytest.approx(no_end["done_loss"], rel=1e-4)


def test_training_the_heads_lowers_their_loss():
    from recurrent_sim.training.optimizers import make_optimizer

    sim = simulator()
    optimizer = make_optimizer(sim, "adam", lr=1e-2)
    function = get_loss(DEFAULT_LOSS).function(SPLIT, HeadWeights(1.0, 1.0, 1.0))
    data = batch()
    history = []
    for _ in range(150):
        sim.cleargrads()
        loss, metrics = function(sim, data)
        loss.backward()
        optimizer.update()
        history.append(metrics)
    # Adam at this step size on two sequences jumps out of a minimum now and
    # then, at a step that float rounding decides: what training must reach
    # is checked, not where the last step happens to land.
    first = history[0]
    assert min(m["reward_loss"] for m in history) < 0.5 * first["reward_loss"]
    assert min(m["done_loss"] for m in history) < 0.5 * first["done_loss"]
    assert max(m["reward_accuracy"] for m in history) > first["reward_accuracy"]


def test_reference_losses_refuse_simulators_with_heads():
    with pytest.raises(UserError, match="heads"):
        loss_of(simulator(), name=REFERENCE_LOSS)


def test_ring_buffer_sequences_carry_episode_ends_and_weights_are_checked():
    from recurrent_sim.data import SampleBuffer

    buffer = SampleBuffer(20, (SIZE, SIZE), seed=0)
    for t in range(10):
        buffer.append(np.zeros((SIZE, SIZE), np.uint8), 0, float(t), t == 9)
    sampled = buffer.sample(3, 4)
    assert sampled.episode_ends.shape == (3, 3) and not sampled.episode_ends.any()
    with pytest.raises(ValueError):
        HeadWeights(-1.0, 0.0, 0.0)


def test_episode_end_steps_can_weigh_more():
    sim = simulator()
    _, plain = loss_of(sim, HeadWeights(0.0, 1.0, 0.0))
    _, heavier = loss_of(sim, HeadWeights(0.0, 1.0, 0.0, done_positive_weight=10.0))
    _, no_end = loss_of(sim, HeadWeights(0.0, 1.0, 0.0), data=batch(ends=np.zeros((2, 5), bool)))
    _, no_end_heavier = loss_of(sim, HeadWeights(0.0, 1.0, 0.0, 10.0), data=batch(ends=np.zeros((2, 5), bool)))
    assert no_end_heavier["done_loss"] == pytest.approx(no_end["done_loss"], rel=1e-6)
    # 8 trained steps, one of them an end whose cross-entropy -log p counts 10 times instead of once
    end_term = (heavier["done_loss"] - plain["done_loss"]) * 8 / 9
    others = plain["done_loss"] * 8 - end_term
    p = np.exp(-end_term)  # that step's predicted probability of an end
    assert no_end["done_loss"] * 8 == pytest.approx(others - np.log(1 - p), rel=1e-4)


@pytest.mark.parametrize("name", [DEFAULT_LOSS, INDEPENDENT_LOSS])
def test_heads_only_differentiates_the_heads_alone_and_keeps_the_frame_error(name):
    architecture = "independent" if name == INDEPENDENT_LOSS else "paper"
    sim = simulator(architecture)
    _, joint = loss_of(sim, HeadWeights(1.0, 1.0, 1.0), name=name)
    loss, alone = loss_of(sim, HeadWeights(1.0, 1.0, 1.0, heads_only=True), name=name)
    assert alone["error"] == pytest.approx(joint["error"]) and alone["reward_loss"] == pytest.approx(joint["reward_loss"])
    heads = {name for name, _ in sim.state_heads.namedparams()}
    grads = {name: param.grad for name, param in sim.namedparams()}
    assert all(grads["/state_heads" + name] is not None for name in heads)
    assert all(grad is None for name, grad in grads.items() if not name.startswith("/state_heads"))
    expected = sum(alone[key] * 1.0 for key in ("reward_loss", "done_loss", "error_loss"))
    assert float(loss.array) == pytest.approx(expected, rel=1e-5)  # the heads' loss, without the frames'


def test_run_settings_hold_the_head_weights_and_read_the_flat_keys_of_earlier_runs():
    """OfflineSettings keeps the heads' weights as one HeadWeights (no field declared twice); the settings a
    checkpoint stored before they were grouped (top-level reward_weight, ..., heads_only) read back the same."""
    from recurrent_sim.training.run_settings import OfflineSettings

    weights = HeadWeights(0.5, 0.25, 0.1, done_positive_weight=10.0, heads_only=True)
    settings = OfflineSettings(heads=True, head_weights=weights)
    stored = settings.to_dict()
    assert stored["head_weights"]["done_positive_weight"] == 10.0 and "reward_weight" not in stored
    assert OfflineSettings.from_dict(stored) == settings
    earlier = {key: value for key, value in stored.items() if key != "head_weights"}
    earlier.update(stored["head_weights"])
    assert OfflineSettings.from_dict(earlier).head_weights == weights
    assert OfflineSettings.from_dict({**earlier, "heads_only": False}).head_weights.heads_only is False
