"""Held-out sequences from the real game, and the simulator's rollouts on them.

A held-out sequence is ``warmup + horizon`` consecutive preprocessed frames
of one episode and the ``warmup + horizon - 1`` actions taken between them.
The simulator sees the first ``warmup`` frames (and the actions between
them), then predicts the remaining ``horizon`` frames from the recorded
actions alone, feeding back its own predictions.
"""
import dataclasses
import logging
from typing import Optional

import numpy as np

from recurrent_sim.envs.rollout_batch import RolloutBatch
from recurrent_sim.evaluation.positions import tracked_objects, true_positions
from recurrent_sim.utils.errors import UserError

logger = logging.getLogger(__name__)

PROBE_EPISODES = 100  # none of the first 100 episodes long enough: give up
EPISODES_PER_SEQUENCE = 50  # at most 100 + 50 x sequences episodes are played


@dataclasses.dataclass
class HeldOutSequence:
    """One recorded stretch of an episode.

    Attributes:
        frames: (length, H, W) uint8 preprocessed frames.
        actions: (length - 1,) int32; ``actions[t]`` was taken on ``frames[t]``.
        episode: index of the episode it comes from (0 = first played).
        start_step: step of that episode at which ``frames[0]`` was seen.
        rewards: (length - 1,) float32 rewards of the transitions.
        episode_ends: (length - 1,) bool, true where the transition ended the episode.
        transitions: transitions that happened (``length - 1``, fewer for a
            sequence cut short by its episode's end: the rest is padding, the
            last frame repeated, action 0, reward 0).
        objects: for a game that tells where its objects are, its
            :class:`~recurrent_sim.evaluation.positions.TrackedObject` s in
            drawing order; else None.
        positions: with ``objects``, (length, n_objects, 2) float64 true
            centres (y, x) of the objects in each frame, pixels; else None.
    """

    frames: np.ndarray
    actions: np.ndarray
    episode: int
    start_step: int
    rewards: Optional[np.ndarray] = None
    episode_ends: Optional[np.ndarray] = None
    transitions: Optional[int] = None
    objects: Optional[tuple] = None
    positions: Optional[np.ndarray] = None

    def __post_init__(self):
        steps = len(self.actions)
        if self.rewards is None:
            self.rewards = np.zeros(steps, dtype=np.float32)
        if self.episode_ends is None:
            self.episode_ends = np.zeros(steps, dtype=bool)
        if self.transitions is None:
            self.transitions = steps

    @property
    def complete(self) -> bool:
        """True unless the episode ended before the sequence's last frame."""
        return self.transitions == len(self.actions)


def _padded(frames, actions, rewards, ends, length, episode, start_step, objects, positions):
    """A :class:`HeldOutSequence` of ``length`` frames from a shorter one cut by its episode's end."""
    missing = length - len(frames)
    if objects is not None:
        positions = np.concatenate([np.stack(positions), np.repeat(positions[-1][None], missing, axis=0)])
    return HeldOutSequence(
        frames=np.concatenate([np.stack(frames), np.repeat(frames[-1][None], missing, axis=0)]),
        actions=np.concatenate([np.asarray(actions, dtype=np.int32), np.zeros(missing, dtype=np.int32)]),
        episode=episode, start_step=start_step,
        rewards=np.concatenate([np.asarray(rewards, dtype=np.float32), np.zeros(missing, dtype=np.float32)]),
        episode_ends=np.concatenate([np.asarray(ends, dtype=bool), np.zeros(missing, dtype=bool)]),
        transitions=len(actions), objects=objects, positions=positions,
    )


def record_sequences(game, act, n_sequences, length, seed=0, max_gap=20, keep_ended=None, max_episodes=None,
                     probe_episodes=PROBE_EPISODES):
    """Play ``game`` with ``act`` and yield ``n_sequences`` sequences of ``length`` frames.

    Before each sequence a random number of steps in ``0..max_gap`` is
    played unrecorded, so sequences start at varied moments of the game. A
    sequence never crosses an episode end: when an episode ends before the
    sequence is complete, the partial sequence is dropped and recording
    starts again in the next episode (the last frame of a sequence may be
    the final frame of an episode). Games whose episodes are often shorter
    than ``length`` are played until enough long ones came, within a bound
    on the episodes played; the last line logged says how many were played
    and how many were long enough. For a game that tells where its objects
    are (see :mod:`recurrent_sim.evaluation.positions`), each sequence
    carries their true positions.

    Args:
        game: a :class:`recurrent_sim.envs.PreprocessedEnv` (stacked uint8
            observations, ``last_frame`` (H, W) uint8).
        act: callable observation -> int action.
        n_sequences: number of sequences to yield.
        length: frames per sequence (>= 1).
        seed: seed of the gap lengths.
        max_gap: largest number of unrecorded steps before a sequence.
        keep_ended: when a number k, a sequence cut short by its episode's
            end after more than k frames is yielded too, padded (see
            :class:`HeldOutSequence`; not counted in ``n_sequences``, at most
            ``n_sequences`` of them): what the episode-end head is measured on.
        max_episodes: most episodes played (default
            ``probe_episodes + EPISODES_PER_SEQUENCE * n_sequences``).
        probe_episodes: when none of the first ``probe_episodes`` episodes
            lasted ``length`` frames, recording stops.
    Yields:
        :class:`HeldOutSequence`.
    Raises:
        UserError: the game's episodes are too short for ``length`` frames:
            its time limit is shorter, none of the first ``probe_episodes``
            was long enough, or ``max_episodes`` were played first.
    """
    limit = getattr(getattr(game, "spec", None), "max_episode_steps", None)
    if limit is not None and length > limit + 1:
        raise UserError(f"episodes of {game.spec.id} end after at most {limit} steps ({limit + 1} frames), "
                        f"too few for {length} frames; lower --warmup or --horizon")
    if max_episodes is None:
        max_episodes = probe_episodes + EPISODES_PER_SEQUENCE * n_sequences
    objects = tracked_objects(game)
    rng = np.random.default_rng(seed)
    episode, long_enough, longest, produced, ended = -1, 0, 0, 0, 0
    while produced < n_sequences:
        if episode + 1 >= max_episodes or (episode + 1 >= probe_episodes and not long_enough):
            raise UserError(
                f"played {episode + 1} episodes, {long_enough} long enough for {length} frames (longest "
                f"{longest} frames), and recorded {produced} of {n_sequences} sequences; lower --warmup or --horizon"
            )
        obs = game.reset()
        episode += 1
        step, done = 0, False
        while not done and produced < n_sequences:
            gap = int(rng.integers(0, max_gap + 1)) if max_gap > 0 else 0
            for _ in range(gap):
                obs, _, done, _ = game.step(act(obs))
                step += 1
                if done:
                    break
            if done:
                break
            start_step = step
            frames = [game.last_frame]
            positions = [true_positions(game)]
            actions, rewards, ends = [], [], []
            while len(frames) < length and not done:
                action = int(act(obs))
                obs, reward, done, _ = game.step(action)
                step += 1
                actions.append(action)
                rewards.append(reward)
                ends.append(done)
                frames.append(game.last_frame)
                positions.append(true_positions(game))
            if len(frames) < length:
                if keep_ended is not None and len(frames) > keep_ended and ended < n_sequences:
                    ended += 1
                    yield _padded(frames, actions, rewards, ends, length, episode, start_step, objects, positions)
                logger.debug("episode %d ended %d frames into a sequence; dropped", episode, len(frames))
                break
            yield HeldOutSequence(
                frames=np.stack(frames),
                actions=np.asarray(actions, dtype=np.int32),
                episode=episode,
                start_step=start_step,
                rewards=np.asarray(rewards, dtype=np.float32),
                episode_ends=np.asarray(ends, dtype=bool),
                objects=objects,
                positions=None if objects is None else np.stack(positions),
            )
            produced += 1
        longest = max(longest, step + 1)  # the last episode, left when enough sequences came: its frames so far
        long_enough += step + 1 >= length
    logger.info("played %d episodes, %d long enough for %d frames", episode + 1, long_enough, length)


def predict_rollouts(simulator, frames, actions, warmup, progress=None, heads=None) -> np.ndarray:
    """The simulator's open-loop predictions on recorded sequences, all at once.

    The simulator is warmed up on ``frames[:, :warmup]`` (and the actions
    between them), then steps ``horizon = length - warmup`` times on the
    recorded actions, fed with its own predictions; one forward pass per
    step serves every sequence of the batch. A prediction-independent
    simulator advances from the recorded actions alone after the warm-up
    (see :class:`RolloutBatch`); each step's frames are decoded to be scored.

    Args:
        simulator: a :class:`recurrent_sim.models.Simulator` with its mean image.
        frames: (N, length, H, W) uint8 real frames.
        actions: (N, length - 1) int32 actions.
        warmup: real frames seen before predicting, 1 <= warmup < length.
        progress: optional :class:`recurrent_sim.utils.progress.Progress`,
            advanced by N predicted frames after each step.
        heads: optional dict, filled for a simulator with heads with
            ``reward_classes`` (N, horizon) int, ``done_probabilities`` and
            ``error_estimates`` (N, horizon) float32, step k as the frames.
    Returns:
        (N, horizon, H, W) uint8 predicted frames; ``[:, k - 1]`` predicts
        ``frames[:, warmup - 1 + k]``.
    """
    frames = np.asarray(frames)
    actions = np.asarray(actions, dtype=np.int32)
    n, length = frames.shape[:2]
    if not 1 <= warmup < length:
        raise ValueError(f"warmup must be in 1..{length - 1}, got {warmup}")
    horizon = length - warmup
    env = RolloutBatch(simulator)
    env.reset(frames[:, :warmup], actions[:, : warmup - 1])
    predictions = np.empty((n, horizon) + frames.shape[2:], dtype=np.uint8)
    read_heads = heads is not None and simulator.has_heads
    if read_heads:
        heads.update(reward_classes=np.zeros((n, horizon), dtype=np.int32),
                     done_probabilities=np.zeros((n, horizon), dtype=np.float32),
                     error_estimates=np.zeros((n, horizon), dtype=np.float32))
    for k in range(horizon):
        predictions[:, k] = env.step(actions[:, warmup - 1 + k])
        if read_heads:
            outputs = env.head_predictions()
            heads["reward_classes"][:, k] = outputs.reward_probabilities.argmax(axis=1)
            heads["done_probabilities"][:, k] = outputs.done_probabilities
            heads["error_estimates"][:, k] = outputs.error_estimates
        if progress is not None:
            progress.update(n)
    return predictions
