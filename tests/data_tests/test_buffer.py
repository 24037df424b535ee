"""Tests of recurrent_sim.data.SampleBuffer against a plain-Python reference model.

Every appended frame encodes its global append index (+1, so that an empty
slot decodes to -1) in its first four pixels, so each sampled frame tells
exactly which transition it came from.
"""
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recurrent_sim.data import SampleBuffer, SequenceBatch

SHAPE = (3, 4)


def make_frame(idx, shape=SHAPE):
    frame = np.zeros(shape, dtype=np.uint8)
    code = np.frombuffer(np.uint32(idx + 1).tobytes(), dtype=np.uint8)
    frame.reshape(-1)[:4] = code
    frame.reshape(-1)[4:] = (idx * 31) % 251  # the rest of the image also varies
    return frame


def decode(frames):
    """Global append indices of frames ``(..., H, W)``; -1 for a never-written slot."""
    pixels = frames.shape[-2] * frames.shape[-1]
    flat = np.ascontiguousarray(frames.reshape(frames.shape[:-2] + (pixels,))[..., :4])
    return flat.view(np.uint32)[..., 0].astype(np.int64) - 1


def action_of(idx):
    return int((idx * 2654435761) % 1009)


def reward_of(idx):
    return float(np.float32((idx % 13) - 6.5))


class Reference:
    """All appended transitions, in order; the buffer should hold the last ``capacity``."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.ends = []

    def append(self, buf, end):
        idx = len(self.ends)
        self.ends.append(bool(end))
        buf.append(make_frame(idx), action_of(idx), reward_of(idx), end)

    @property
    def first(self):
        """Global index of the oldest stored transition."""
        return max(0, len(self.ends) - self.capacity)

    def valid_starts(self, seq_len):
        stored = list(range(self.first, len(self.ends)))
        out = []
        for i in range(len(stored) - seq_len + 1):
            if not any(self.ends[g] for g in stored[i:i + seq_len - 1]):
                out.append(i)
        return out


def ends_from_lengths(lengths):
    ends = []
    for n in lengths:
        ends += [False] * (n - 1) + [True]
    return ends


def check_batch(buf, ref, batch, batch_size, seq_len):
    assert isinstance(batch, SequenceBatch)
    H, W = buf.frame_shape
    assert batch.frames.shape == (batch_size, seq_len, H, W) and batch.frames.dtype == np.uint8
    assert batch.actions.shape == (batch_size, seq_len - 1) and batch.actions.dtype == np.int32
    assert batch.rewards.shape == (batch_size, seq_len - 1) and batch.rewards.dtype == np.float32
    assert batch.starts.shape == (batch_size,) and batch.starts.dtype == np.int64
    g = decode(batch.frames)
    total = len(ref.ends)
    # never an unfilled slot, only transitions still stored
    assert (g >= ref.first).all() and (g < total).all(), g
    # chronologically consecutive: never straddles the write position
    assert (np.diff(g, axis=1) == 1).all(), g
    # frames are exactly the stored frames (every pixel)
    for b in range(batch_size):
        for t in range(seq_len):
            np.testing.assert_array_equal(batch.frames[b, t], make_frame(int(g[b, t])))
    np.testing.assert_array_equal(batch.starts, g[:, 0] - ref.first)
    valid = set(ref.valid_starts(seq_len))
    for b in range(batch_size):
        assert int(batch.starts[b]) in valid
        for t in range(seq_len - 1):
            idx = int(g[b, t])
            assert not ref.ends[idx], "episode end inside a sampled sequence"
            assert batch.actions[b, t] == action_of(idx)
            assert batch.rewards[b, t] == np.float32(reward_of(idx))


@st.composite
def scenarios(draw):
    seq_len = draw(st.integers(1, 8))
    capacity = draw(st.one_of(
        st.sampled_from(sorted({1, 2, max(1, seq_len - 1), seq_len, seq_len + 1})),
        st.integers(1, 40)))
    lengths = draw(st.lists(st.integers(1, 12), min_size=0, max_size=40))
    ends = ends_from_lengths(lengths)
    # optionally an unfinished episode at the end
    ends += [False] * draw(st.integers(0, 10))
    checkpoints = draw(st.sets(st.integers(0, len(ends)), max_size=6)) | {len(ends)}
    return seq_len, capacity, ends, sorted(checkpoints), draw(st.integers(0, 2**32 - 1))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.integers(1, 5))
def test_samples_match_reference(scenario, batch_size):
    seq_len, capacity, ends, checkpoints, seed = scenario
    buf = SampleBuffer(capacity, SHAPE, seed=seed)
    ref = Reference(capacity)
    done = 0
    for cp in checkpoints:
        for end in ends[done:cp]:
            ref.append(buf, end)
        done = cp
        assert len(buf) == min(capacity, cp)
        assert buf.total_appended == cp
        # oldest frames in chronological order
        for n in (0, 1, capacity, capacity + 3):
            first = buf.first_frames(n)
            assert first.shape == (min(n, len(buf)),) + SHAPE and first.dtype == np.uint8
            np.testing.assert_array_equal(decode(first), ref.first + np.arange(first.shape[0]))
        for sl in {1, seq_len, seq_len + 1}:
            assert buf.num_valid_starts(sl) == len(ref.valid_starts(sl))
            assert buf.can_sample(sl) == bool(ref.valid_starts(sl))
        if ref.valid_starts(seq_len):
            check_batch(buf, ref, buf.sample(batch_size, seq_len), batch_size, seq_len)
        else:
            with pytest.raises(ValueError, match="no valid sequence"):
                buf.sample(batch_size, seq_len)


def test_episode_end_on_last_frame_is_allowed():
    buf = SampleBuffer(10, SHAPE, seed=0)
    ref = Reference(10)
    for end in [False, False, True, False, False]:  # an episode of 3, then 2 steps
        ref.append(buf, end)
    # seq_len 3: only logical start 0 (frames 0, 1, 2; frame 2 ended the episode)
    assert buf.num_valid_starts(3) == 1
    batch = buf.sample(4, 3)
    np.testing.assert_array_equal(decode(batch.frames), [[0, 1, 2]] * 4)
    np.testing.assert_array_equal(batch.starts, [0] * 4)
    check_batch(buf, ref, batch, 4, 3)
    # seq_len 2: starts 0, 1 and 3 (not 2: its action ended the episode)
    assert buf.num_valid_starts(2) == 3
    got = set(buf.sample(200, 2).starts.tolist())
    assert got == {0, 1, 3}
    assert buf.num_valid_starts(4) == 0


def test_never_crosses_write_position():
    # one long episode: after wrapping, the only break is the write position
    cap, seq_len = 7, 3
    buf = SampleBuffer(cap, SHAPE, seed=1)
    ref = Reference(cap)
    for _ in range(3 * cap + 2):
        ref.append(buf, False)
    assert buf.num_valid_starts(seq_len) == cap - seq_len + 1
    batch = buf.sample(500, seq_len)
    check_batch(buf, ref, batch, 500, seq_len)
    assert set(batch.starts.tolist()) == set(range(cap - seq_len + 1))
    assert buf.num_valid_starts(cap) == 1 and buf.num_valid_starts(cap + 1) == 0


def test_uniform_over_valid_starts():
    buf = SampleBuffer(12, SHAPE, seed=123)
    ref = Reference(12)
    for end in ends_from_lengths([2, 6, 1, 5]):
        ref.append(buf, end)
    valid = ref.valid_starts(3)
    assert buf.num_valid_starts(3) == len(valid) == 7
    n = 70_000
    counts = np.bincount(buf.sample(n, 3).starts, minlength=12)
    assert set(np.flatnonzero(counts).tolist()) == set(valid)
    expected = n / len(valid)
    # 5 standard deviations of a binomial count
    tol = 5 * np.sqrt(expected * (1 - 1 / len(valid)))
    assert np.abs(counts[valid] - expected).max() < tol, counts


def test_empty_and_too_short_raise_clear_error():
    buf = SampleBuffer(5, SHAPE, seed=0)
    assert len(buf) == 0 and not buf.can_sample(1) and buf.num_valid_starts(1) == 0
    with pytest.raises(ValueError, match="no valid sequence of 2 frames"):
        buf.sample(1, 2)
    for end in [False, True, False, True]:
        buf.append(make_frame(0), 0, 0.0, end)
    assert buf.can_sample(2) and not buf.can_sample(3)
    with pytest.raises(ValueError, match="no valid sequence of 3 frames"):
        buf.sample(4, 3)
    for bad in (0, -1):
        with pytest.raises(ValueError):
            buf.sample(1, bad)
        with pytest.raises(ValueError):
            buf.sample(bad, 1)


@pytest.mark.parametrize("capacity, shape", [(0, (2, 2)), (-3, (2, 2)), (4, (0, 2)),
                                             (4, (2,)), (4, (2, 2, 2)), (4, (-1, 3))])
def test_constructor_rejects_bad_arguments(capacity, shape):
    with pytest.raises(ValueError):
        SampleBuffer(capacity, shape)


def test_append_rejects_wrong_frames():
    buf = SampleBuffer(4, SHAPE)
    with pytest.raises(ValueError):
        buf.append(np.zeros((4, 3), np.uint8), 0, 0.0, False)
    with pytest.raises(TypeError):
        buf.append(np.zeros(SHAPE, np.float32), 0, 0.0, False)
    assert len(buf) == 0 and buf.total_appended == 0


@pytest.mark.parametrize("capacity, shape", [(1, (84, 84)), (1000, (84, 84)), (37, (3, 4))])
def test_memory_is_preallocated_and_exact(capacity, shape):
    def check_storage():
        arrays = [v for v in vars(buf).values() if isinstance(v, np.ndarray)]
        assert sum(a.nbytes for a in arrays) == expected == buf.nbytes
        # nothing else can grow: no lists of frames, no per-sample copies
        for name, v in vars(buf).items():
            assert isinstance(v, (np.ndarray, int, tuple, np.random.Generator)), name
            assert not isinstance(v, tuple) or len(v) == 2, name

    buf = SampleBuffer(capacity, shape, seed=0)
    expected = capacity * (shape[0] * shape[1] + 4 + 4 + 1)
    check_storage()
    for i in range(2 * capacity + 1):
        buf.append(np.full(shape, i % 256, np.uint8), i % 4, 1.0, i % 5 == 4)
    buf.sample(3, 1)
    check_storage()
    sd = buf.state_dict()
    assert sum(sd[k].nbytes for k in ("frames", "actions", "rewards", "episode_ends")) == expected


@settings(max_examples=40, deadline=None)
@given(scenarios())
def test_state_dict_round_trip_gives_identical_future(scenario):
    seq_len, capacity, ends, checkpoints, seed = scenario
    half = len(ends) // 2
    a = SampleBuffer(capacity, SHAPE, seed=seed)
    ref = Reference(capacity)
    for end in ends[:half]:
        ref.append(a, end)
    if a.can_sample(seq_len):
        a.sample(3, seq_len)  # advance the generator
    sd = a.state_dict()
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in sd.values())
    f = io.BytesIO()
    np.savez(f, **sd)
    f.seek(0)
    loaded = dict(np.load(f, allow_pickle=False))
    b = SampleBuffer(capacity, SHAPE, seed=seed + 1)
    b.load_state_dict(loaded)
    assert (len(b), b.total_appended) == (len(a), a.total_appended)
    for i, end in enumerate(ends[half:] + [False] * 3):
        idx = half + i
        for buf in (a, b):
            buf.append(make_frame(idx), action_of(idx), reward_of(idx), end)
        assert a.num_valid_starts(seq_len) == b.num_valid_starts(seq_len)
        if a.can_sample(seq_len):
            x, y = a.sample(4, seq_len), b.sample(4, seq_len)
            for u, v in zip(x, y):
                np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(a.first_frames(capacity), b.first_frames(capacity))


def test_state_dict_survives_later_appends_and_rejects_mismatch():
    a = SampleBuffer(4, SHAPE, seed=5)
    for i in range(3):
        a.append(make_frame(i), 1, 0.5, False)
    sd = a.state_dict()
    for i in range(3, 9):
        a.append(make_frame(i), 2, 0.5, False)
    b = SampleBuffer(4, SHAPE)
    b.load_state_dict(sd)
    np.testing.assert_array_equal(decode(b.first_frames(10)), [0, 1, 2])
    with pytest.raises(ValueError, match="capacity"):
        SampleBuffer(5, SHAPE).load_state_dict(sd)
    with pytest.raises(ValueError, match="frame_shape"):
        SampleBuffer(4, (4, 3)).load_state_dict(sd)


def test_rng_state_round_trip_for_other_bit_generators():
    a = SampleBuffer(6, SHAPE, seed=np.random.Generator(np.random.MT19937(7)))
    for i in range(6):
        a.append(make_frame(i), 0, 0.0, False)
    b = SampleBuffer(6, SHAPE)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.sample(50, 2).starts, b.sample(50, 2).starts)
