"""Where a simulated game's warm-ups come from: recorded episodes, or a few steps of the live game.

A warm-up source is a callable ``source(n) -> (frames, actions)``: n rows of
``warmup`` real (H, W) uint8 frames and the ``warmup - 1`` int32 actions
taken between them (``actions[:, t]`` on ``frames[:, t]``), what
:meth:`~recurrent_sim.envs.batched_simulated_game.BatchedSimulatedGame.warm_up`
and its ``reset`` take. After the warm-up the game needs no emulator.

Both sources here have ``seed(seed)``: from then on the warm-ups they draw
are those of ``seed``, so that a game reset with a seed
(:meth:`~recurrent_sim.envs.simulated_game.SimulatedGame.seed`, gymnasium's
``reset(seed=...)``) plays the same episode again.
"""
import numpy as np

from recurrent_sim.utils.errors import UserError


class DatasetWarmups:
    """Warm-ups drawn at random from recorded episodes (:class:`~recurrent_sim.data.episode.Episode`).

    Every window of ``warmup`` consecutive frames of an episode may be
    drawn, except one ending on the final frame of a finished episode (the
    game would start after its end).

    Args:
        episodes: list of episodes (frames (T + 1, H, W) uint8, actions (T,)).
        warmup: frames per warm-up, >= 1.
        seed: seed of the draws.
    Raises:
        UserError: no episode holds a window of ``warmup`` frames.
    """

    def __init__(self, episodes, warmup, seed=0):
        if warmup < 1:
            raise ValueError(f"warmup must be >= 1, got {warmup}")
        self.episodes = list(episodes)
        self.warmup = int(warmup)
        self.rng = np.random.default_rng(seed)
        windows = []
        for index, episode in enumerate(self.episodes):
            last_start = len(episode.frames) - self.warmup - (1 if episode.terminal else 0)
            windows.extend((index, start) for start in range(last_start + 1))
        if not windows:
            raise UserError(f"no recorded episode holds {self.warmup} frames before its end; "
                            "record longer episodes or warm up on fewer frames")
        self.windows = np.asarray(windows, dtype=np.int64)

    def seed(self, seed):
        """Draw the windows of ``seed`` from now on (the same ``seed``, the same draws)."""
        self.rng = np.random.default_rng(seed)

    def __call__(self, n):
        picks = self.windows[self.rng.integers(0, len(self.windows), size=n)]
        frames = np.stack([self.episodes[e].frames[s : s + self.warmup] for e, s in picks])
        actions = np.stack([self.episodes[e].actions[s : s + self.warmup - 1] for e, s in picks]).astype(np.int32)
        return frames, actions.reshape(n, self.warmup - 1)


class LiveWarmups:
    """Warm-ups played on the live game: a reset, then ``warmup - 1`` steps.

    Args:
        game: a :class:`~recurrent_sim.envs.preprocessing.PreprocessedEnv` (the real game).
        warmup: frames per warm-up, >= 1.
        act: ``(observation) -> action`` that plays the warm-up steps
            (default: uniformly random actions). :meth:`seed` does not reach
            its own randomness: give a deterministic one where seeds must
            repeat episodes.
        seed: seed of the random actions (the game keeps the seed it was made with).
        max_tries: episodes that may end during a warm-up before UserError.
    """

    def __init__(self, game, warmup, act=None, seed=0, max_tries=20):
        if warmup < 1:
            raise ValueError(f"warmup must be >= 1, got {warmup}")
        self.game = game
        self.warmup = int(warmup)
        self.rng = np.random.default_rng(seed)
        self.act = act or (lambda observation: int(self.rng.integers(game.action_space.n)))
        self.max_tries = int(max_tries)

    def seed(self, seed):
        """Reseed the game (its next reset) and the random actions from ``seed``: from now on the
        warm-ups are those of ``seed``."""
        game_seed, action_seed = np.random.SeedSequence(seed).generate_state(2)
        self.game.seed(int(game_seed))
        self.rng = np.random.default_rng(int(action_seed))

    def one(self):
        """(frames (warmup, H, W) uint8, actions (warmup - 1,) int32) of one fresh episode's start."""
        for _ in range(self.max_tries):
            observation = self.game.reset()
            frames, actions = [self.game.last_frame], []
            done = False
            while len(frames) < self.warmup and not done:
                action = int(self.act(observation))
                observation, _, done, _ = self.game.step(action)
                frames.append(self.game.last_frame)
                actions.append(action)
            if not done:
                return np.stack(frames), np.asarray(actions, dtype=np.int32)
        raise UserError(f"{self.max_tries} episodes in a row ended within {self.warmup} frames; warm up on fewer frames")

    def __call__(self, n):
        rows = [self.one() for _ in range(n)]
        return np.stack([f for f, _ in rows]), np.stack([a for _, a in rows]).reshape(n, self.warmup - 1)
