"""RolloutBatch with a prediction-independent simulator: action-only steps, frames decoded when asked."""
import numpy as np
import pytest

from recurrent_sim.envs.rollout_batch import RolloutBatch
from recurrent_sim.models import SimulatorConfig, build_simulator

N_GAMES, WARMUP, SIZE, K = 3, 4, 32, 6


def make_simulator(architecture):
    np.random.seed(0)
    sim = build_simulator(SimulatorConfig(architecture=architecture, frame_shape=(SIZE, SIZE), n_actions=3,
                                          hidden_size=8, encoding_size=16))
    sim.set_mean_image(np.random.RandomState(0).randint(0, 256, (8, SIZE, SIZE)).astype(np.uint8))
    return sim


@pytest.fixture(scope="module")
def simulator():
    return make_simulator("independent")


def games(seed=1, n=N_GAMES):
    rng = np.random.RandomState(seed)
    frames = rng.randint(0, 256, (n, WARMUP, SIZE, SIZE)).astype(np.uint8)
    actions = rng.randint(0, 3, (n, WARMUP - 1)).astype(np.int32)
    steps = rng.randint(0, 3, (n, K)).astype(np.int32)
    return frames, actions, steps


def reference_rollout(sim, frames, actions, steps):
    """The paper's definition written out: real frames through the frame-conditioned
    transition, then the actions alone; every state decoded."""
    state = sim.initial_state(len(frames))
    inputs = sim.normalize(frames)[:, :, None]
    for t in range(WARMUP - 1):
        _, state = sim.transition(sim.encode(inputs[:, t]), actions[:, t], state)
    hidden, state = sim.transition(sim.encode(inputs[:, -1]), steps[:, 0], state)
    out = [sim.to_uint8(sim.decode(hidden).array[:, 0])]
    for k in range(1, steps.shape[1]):
        hidden, state = sim.advance(steps[:, k], state)
        out.append(sim.to_uint8(sim.decode(hidden).array[:, 0]))
    return np.stack(out, axis=1)


def test_steps_follow_the_action_only_definition(simulator):
    frames, actions, steps = games()
    env = RolloutBatch(simulator)
    env.reset(frames, actions)
    stepped = np.stack([env.step(steps[:, k]) for k in range(K)], axis=1)
    expected = reference_rollout(simulator, frames, actions, steps)
    assert np.abs(stepped.astype(int) - expected.astype(int)).max() <= 1
    assert not np.array_equal(stepped[:, 1], stepped[:, 2])


@pytest.mark.parametrize("architecture", ["independent", "paper"])
def test_advance_then_decode_equals_stepping_with_decoding(architecture):
    sim = make_simulator(architecture)
    frames, actions, steps = games()
    stepped = RolloutBatch(sim)
    stepped.reset(frames, actions)
    for k in range(K):
        last = stepped.step(steps[:, k])
    advanced = RolloutBatch(sim)
    advanced.reset(frames, actions)
    advanced.advance(steps[:, :2])
    advanced.advance(steps[:, 2:])
    np.testing.assert_array_equal(advanced.decode(), last)
    np.testing.assert_array_equal(advanced.frames, last)
    for a, b in zip(advanced.state, stepped.state):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_action_only_steps_call_neither_encoder_nor_decoder(simulator, monkeypatch):
    frames, actions, steps = games()
    env = RolloutBatch(simulator)
    env.reset(frames, actions)
    env.advance(steps[:, :1])  # consumes the last real frame: encoded, not decoded
    calls = []
    encode, decode = simulator.encode, simulator.decode
    monkeypatch.setattr(simulator, "encode", lambda x: calls.append("encode") or encode(x))
    monkeypatch.setattr(simulator, "decode", lambda h: calls.append("decode") or decode(h))
    env.advance(steps[:, 1:])
    assert calls == []
    env.decode()
    env.decode()
    assert calls == ["decode"]  # once, when asked
    calls.clear()
    env.set_frames(frames[:, 0])  # a real frame: the next step feeds it
    env.advance(steps[:, :2])
    assert calls == ["encode"]


def test_restarted_games_feed_their_real_frame_while_the_others_run_on_actions(simulator):
    frames, actions, steps = games()
    new_frames, new_actions, _ = games(seed=2, n=1)
    env = RolloutBatch(simulator)
    env.reset(frames, actions)
    env.advance(steps[:, :2])
    env.reset_games([1], new_frames, new_actions)
    together = env.step(steps[:, 2])

    alone = RolloutBatch(simulator)
    alone.reset(new_frames, new_actions)
    assert np.abs(together[1].astype(int) - alone.step(steps[1:2, 2])[0].astype(int)).max() <= 1
    kept = RolloutBatch(simulator)
    kept.reset(frames[[0, 2]], actions[[0, 2]])
    kept.advance(steps[[0, 2], :2])
    assert np.abs(together[[0, 2]].astype(int) - kept.step(steps[[0, 2], 2]).astype(int)).max() <= 1


def test_advance_checks_its_actions(simulator):
    frames, actions, steps = games()
    env = RolloutBatch(simulator)
    with pytest.raises(RuntimeError, match="reset"):
        env.advance(steps)
    env.reset(frames, actions)
    with pytest.raises(ValueError, match=r"\(3, K\)"):
        env.advance(steps[:2])
