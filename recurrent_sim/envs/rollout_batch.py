"""The batched core of the simulated envs: N simulator rollouts stepped together in one forward pass.

Frames in, predicted frames out (no reward, no frame stacks: those are
:class:`~recurrent_sim.envs.batched_simulated_game.BatchedSimulatedGame`'s).

After :meth:`RolloutBatch.reset` on real frames the games run on the
simulator alone: each :meth:`step` feeds the current frames (the last real
frame right after a reset, the previous predictions afterwards) and the N
actions, and returns the N predicted next frames. :meth:`set_frames`
replaces the current frames with real ones (re-synchronisation) while the
recurrent state carries on, and :meth:`reset_games` restarts some of the
games while the others go on.

Every step is one forward pass for all N games (one encoder, LSTM and
decoder call on a batch of N), which is what makes many games cheaper per
game than one: ``recurrent-sim bench`` measures it.

With a prediction-independent simulator (``simulator.prediction_independent``,
e.g. the architecture ``independent``) a step feeds a frame only when it is
real (the last warm-up frame, or one given by :meth:`set_frames`); every
other step advances the state from the actions alone. :meth:`advance` then
runs K steps without decoding any frame, and :meth:`decode` (or
:attr:`frames`) decodes the current frames when they are wanted: what makes
long rollouts cheap.
"""
import contextlib
from typing import NamedTuple, Optional

import chainer
import numpy as np

from recurrent_sim.models import fast_conv
from recurrent_sim.models.simulator_base import detach
from recurrent_sim.utils.cpu_pool import fast_path_threads


class HeadPredictions(NamedTuple):
    """The heads' predictions for N games (numpy, float32).

    Attributes:
        reward_probabilities: (N, 3) over the reward classes (negative, zero, positive).
        done_probabilities: (N,) probability that the step ended the episode.
        error_estimates: (N,) estimated mean squared error per pixel (pixels in
            [0, 1]) of the frame just predicted: the drift signal.
    """

    reward_probabilities: np.ndarray
    done_probabilities: np.ndarray
    error_estimates: np.ndarray


@contextlib.contextmanager
def _inference(simulator):
    """No backprop, test mode, and on the fast CPU path OpenBLAS held to one thread
    (the kernels and the LSTM step spread their work over threads of their own)."""
    with chainer.no_backprop_mode(), chainer.using_config("train", False):
        with fast_path_threads(fast_conv.fast_path(simulator.xp)):
            yield


class RolloutBatch:
    """A batch of games played inside a :class:`Simulator`.

    Args:
        simulator: a trained simulator (its mean image must be set).
    """

    def __init__(self, simulator):
        self.simulator = simulator
        self.state = None
        self._current = None  # (N, C, H, W) float32 normalised, on the simulator's device
        self._real = None  # (N,) bool: the current frame is real and not fed yet (prediction-independent)
        self._hidden = None  # (N, features) newest transition output not decoded yet, or None

    @property
    def num_games(self) -> int:
        return 0 if self._current is None else len(self._current)

    def reset(self, frames, actions):
        """Warm the simulator up on real frames.

        Args:
            frames: (N, warmup, H, W) uint8 real frames, warmup >= 1.
            actions: (N, warmup - 1) int32; ``actions[:, t]`` was taken on
                ``frames[:, t]``.
        Returns:
            (N, H, W) uint8: the last real frame of each game, the one the
            first :meth:`step` acts on.
        """
        self.state, self._current = self._warm_up(frames, actions)
        self._real = np.ones(len(self._current), dtype=bool)
        self._hidden = None
        return self.frames

    def reset_games(self, games, frames, actions):
        """Restart some games from real frames; the others carry on unchanged.

        Args:
            games: (k,) distinct indices of the games to restart.
            frames: (k, warmup, H, W) uint8 real frames, one row per game.
            actions: (k, warmup - 1) int32.
        Returns:
            (N, H, W) uint8 current frames of all the games.
        """
        if self._current is None:
            raise RuntimeError("call reset() before reset_games()")
        games = np.asarray(games, dtype=np.int64).reshape(-1)
        if len(np.unique(games)) != len(games) or games.min(initial=0) < 0 or games.max(initial=0) >= self.num_games:
            raise ValueError(f"games must be distinct indices in 0..{self.num_games - 1}, got {games.tolist()}")
        if len(frames) != len(games):
            raise ValueError(f"reset_games got {len(games)} games but {len(frames)} rows of frames")
        if len(games) == 0:
            return self.frames
        self._decode_pending()
        state, current = self._warm_up(frames, actions)
        self._real = self._real.copy()
        self._real[games] = True
        index = self.simulator.xp.asarray(games)
        merged = []
        for old, new in zip(self.state, state):
            old = old.copy()
            old[index] = new
            merged.append(old)
        self.state = tuple(merged)
        self._current = self._current.copy()
        self._current[index] = current
        return self.frames

    def _warm_up(self, frames, actions):
        """State after the warm-up frames, and the last frame (normalised)."""
        frames = np.asarray(frames)
        actions = np.asarray(actions, dtype=np.int32)
        shape = tuple(self.simulator.config.image_shape)
        if frames.ndim != 2 + len(shape) or frames.shape[1] < 1 or frames.shape[2:] != shape:
            raise ValueError(f"reset needs (N, warmup >= 1) + {shape} frames, got {frames.shape}")
        if actions.shape != (frames.shape[0], frames.shape[1] - 1):
            raise ValueError(
                f"reset needs (N, warmup - 1) = {(frames.shape[0], frames.shape[1] - 1)} actions, "
                f"got {actions.shape}"
            )
        sim = self.simulator
        xp = sim.xp
        n, warmup = frames.shape[:2]
        inputs = sim.network_frames(frames)  # (N, warmup, C, H, W)
        actions = xp.asarray(actions)
        state = sim.initial_state(n)
        if warmup > 1:
            with _inference(sim):
                state = sim.warm_up(inputs[:, :-1], actions, state)
        return detach(state), inputs[:, -1]

    def step(self, actions):
        """Advance every game by one step.

        Args:
            actions: (N,) int actions, one per game.
        Returns:
            (N, H, W) uint8 predicted frames.
        """
        self._transition(actions)
        return self.decode()

    def advance(self, actions):
        """Advance every game by K steps without decoding the frames.

        With a prediction-independent simulator nothing is encoded or
        decoded after the first step from a real frame: the state advances
        from the actions alone. A prediction-dependent simulator needs each
        predicted frame as its next input, so it still decodes every step
        (without converting frames to uint8).

        Args:
            actions: (N, K) int actions, ``actions[:, k]`` taken at step k.
        """
        if self._current is None:
            raise RuntimeError("call reset() before advance()")
        actions = np.asarray(actions, dtype=np.int32)
        if actions.ndim != 2 or actions.shape[0] != self.num_games:
            raise ValueError(f"advance needs ({self.num_games}, K) actions, got {actions.shape}")
        for k in range(actions.shape[1]):
            self._transition(actions[:, k])

    def decode(self) -> np.ndarray:
        """(N, H, W) uint8 current frames, decoded now if :meth:`advance` left them undecoded."""
        return self.frames

    def _transition(self, actions):
        """One step of every game: the prediction becomes the current frames (prediction-dependent)
        or waits undecoded in ``_hidden`` (prediction-independent)."""
        if self._current is None:
            raise RuntimeError("call reset() before step()")
        sim = self.simulator
        xp = sim.xp
        actions = xp.asarray(np.asarray(actions, dtype=np.int32).reshape(-1))
        if len(actions) != self.num_games:
            raise ValueError(f"step needs {self.num_games} actions, got {len(actions)}")
        with _inference(sim):
            if not sim.prediction_independent:  # each prediction is the next input
                prediction, state = sim.predict(self._current, actions, self.state)
                self._current = prediction.array
                self.state = detach(state)
                return
            if self._real.all():
                hidden, state = sim.transition(sim.encode(self._current), actions, self.state)
            elif not self._real.any():
                hidden, state = sim.advance(actions, self.state)
            else:  # some games restarted from real frames, the others run on actions
                real = xp.asarray(np.flatnonzero(self._real))
                other = xp.asarray(np.flatnonzero(~self._real))
                observed = sim.transition(
                    sim.encode(self._current[real]), actions[real], tuple(s[real] for s in self.state)
                )
                advanced = sim.advance(actions[other], tuple(s[other] for s in self.state))
                hidden, state = _merge_rows(xp, (real, other), (observed, advanced))
        self._hidden = chainer.as_array(hidden)
        self.state = detach(state)
        self._real = np.zeros(self.num_games, dtype=bool)

    def _decode_pending(self):
        """Decode the newest transition output into the current frames, if one is waiting."""
        if self._hidden is None:
            return
        with _inference(self.simulator):
            self._current = chainer.as_array(self.simulator.decode(self._hidden))
        self._hidden = None

    def set_frames(self, frames):
        """Replace the current frames with real (N,) + ``config.image_shape`` uint8 frames."""
        frames = np.asarray(frames)
        if self._current is None or frames.shape != (self.num_games,) + tuple(self.simulator.config.image_shape):
            raise ValueError(f"set_frames needs {self.num_games} frames of the simulator's size")
        self._current = self.simulator.network_frames(frames)
        self._hidden = None
        self._real = np.ones(self.num_games, dtype=bool)

    def snapshot(self):
        """A copy of everything that defines the games now, for :meth:`restore` (branching)."""
        copy = _copy_array
        return (tuple(copy(s) for s in self.state) if self.state is not None else None, copy(self._current),
                copy(self._real), copy(self._hidden))

    def restore(self, snapshot):
        """Go back to a :meth:`snapshot`; the snapshot stays valid for further restores."""
        state, current, real, hidden = snapshot
        copy = _copy_array
        self.state = tuple(copy(s) for s in state) if state is not None else None
        self._current, self._real, self._hidden = copy(current), copy(real), copy(hidden)

    def head_predictions(self) -> Optional[HeadPredictions]:
        """What the simulator's heads say of the step that made the current state, on the host;
        None for a simulator without heads (see :class:`HeadPredictions`)."""
        if not self.simulator.has_heads:
            return None
        if self.state is None:
            raise RuntimeError("call reset() before head_predictions()")
        to_cpu = chainer.backends.cuda.to_cpu
        frames = None
        if self.simulator.heads_read_frames:
            self._decode_pending()
            frames = self._current
        with _inference(self.simulator):
            heads = self.simulator.heads(self.state, frames)
            return HeadPredictions(
                reward_probabilities=to_cpu(chainer.functions.softmax(heads.reward_logits).array),
                done_probabilities=to_cpu(chainer.functions.sigmoid(heads.done_logit).array),
                error_estimates=to_cpu(heads.error_estimate.array).astype(np.float32),
            )

    @property
    def frames(self) -> np.ndarray:
        """(N,) + ``config.image_shape`` uint8 current frames ((N, H, W) gray), on the host (decoded now
        if they were left undecoded)."""
        self._decode_pending()
        return chainer.backends.cuda.to_cpu(self.simulator.to_images(self._current))


def _copy_array(array):
    """A copy of a numpy or cupy array (None stays None)."""
    return None if array is None else array.copy()


def _merge_rows(xp, rows, outputs):
    """One (hidden, state) from per-subset outputs: ``outputs[i]`` holds the rows ``rows[i]``."""
    def merge(parts):
        parts = [chainer.as_array(p) for p in parts]
        merged = xp.empty((sum(len(p) for p in parts),) + parts[0].shape[1:], dtype=parts[0].dtype)
        for index, part in zip(rows, parts):
            merged[index] = part
        return merged

    hidden = merge([hidden for hidden, _ in outputs])
    state = tuple(merge(parts) for parts in zip(*(state for _, state in outputs)))
    return hidden, state
