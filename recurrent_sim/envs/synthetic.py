"""A tiny synthetic game with action-dependent dynamics, for tests and demos.

``BlockWorld-v0``: a gray square the player moves (noop, up, down, left,
right; 2 pixels a step, stopping at the walls) and a ball that bounces
on its own. Frames are RGB (size, size, 3) uint8 like Atari screens, so
the whole pipeline (preprocessing, buffers, simulator) runs on it
unchanged, in seconds. An episode lasts ``episode_steps`` steps; the reward
is 1 when the square touches the ball.

``BlockWorld-v1`` is the same game with a 4-pixel ball and a bottom wall
the player defends: when the ball reaches it (and the square does not touch
it) the reward is -1 and the episode ends. So the reward takes all three signs' classes and
episodes end where the frames show why, which is what the simulator's
reward and episode-end heads learn (:mod:`recurrent_sim.models.heads`).

The game says where its objects are and how they look
(:meth:`BlockWorldEnv.object_positions`, :meth:`BlockWorldEnv.object_looks`),
so ``recurrent-sim evaluate`` measures the predicted positions against the
true ones (:mod:`recurrent_sim.evaluation.positions`).
"""
import collections

import gym
import numpy as np
from gym import spaces

ACTIONS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))  # (dy, dx): noop, up, down, left, right
BACKGROUND_RGB = (20, 20, 20)
SQUARE_RGB = (200, 200, 200)
BALL_RGB = (255, 255, 0)

ObjectLook = collections.namedtuple("ObjectLook", "side rgb")
ObjectLook.__doc__ = "How a game object is drawn: a ``side`` x ``side`` pixel square of colour ``rgb`` (R, G, B)."


class BlockWorldEnv(gym.Env):
    """A player-controlled square and a bouncing ball on a dark background.

    Args:
        size: frame height and width, pixels.
        block: side of the player's square, pixels.
        speed: pixels moved per step by the square.
        episode_steps: steps per episode (at most, with ``bottom_ends``).
        bottom_ends: the ball reaching the bottom wall ends the episode with reward -1.
        ball: side of the ball, pixels.
    """

    metadata = {"render.modes": ["rgb_array"]}

    def __init__(self, size=32, block=6, speed=2, episode_steps=100, bottom_ends=False, ball=2):
        self.size, self.block, self.speed, self.episode_steps = size, block, speed, episode_steps
        self.bottom_ends, self.ball = bool(bottom_ends), int(ball)
        self.action_space = spaces.Discrete(len(ACTIONS))
        self.observation_space = spaces.Box(0, 255, (size, size, 3), dtype=np.uint8)
        self.np_random = np.random.RandomState()
        self._t = 0
        self._player = np.zeros(2, dtype=np.int64)
        self._ball = np.zeros(2, dtype=np.int64)
        self._velocity = np.ones(2, dtype=np.int64)

    def seed(self, seed=None):
        self.np_random = np.random.RandomState(seed)
        return [seed]

    def get_action_meanings(self):
        return ["NOOP", "UP", "DOWN", "LEFT", "RIGHT"]

    def reset(self):
        high = self.size - self.block
        self._t = 0
        self._player = self.np_random.randint(0, high + 1, size=2)
        self._ball = self.np_random.randint(0, self.size - self.ball, size=2)
        self._velocity = self.np_random.choice([-1, 1], size=2)
        return self._render_frame()

    def step(self, action):
        if not self.action_space.contains(int(action)):
            raise ValueError(f"invalid action {action}")
        move = np.array(ACTIONS[int(action)]) * self.speed
        self._player = np.clip(self._player + move, 0, self.size - self.block)
        self._ball = self._ball + self._velocity
        for axis in range(2):
            if self._ball[axis] <= 0 or self._ball[axis] >= self.size - self.ball:
                self._velocity[axis] *= -1
                self._ball[axis] = np.clip(self._ball[axis], 0, self.size - self.ball)
        self._t += 1
        overlap = np.all(self._ball + self.ball > self._player) and np.all(self._ball < self._player + self.block)
        done = self._t >= self.episode_steps
        if self.bottom_ends and not overlap and self._ball[0] >= self.size - self.ball:
            return self._render_frame(), -1.0, True, {}
        return self._render_frame(), float(overlap), done, {}

    def object_looks(self):
        """{"square": ObjectLook, "ball": ObjectLook} in drawing order (the ball is drawn over the
        square), on a background of colour ``BACKGROUND_RGB``."""
        return {"square": ObjectLook(self.block, SQUARE_RGB), "ball": ObjectLook(self.ball, BALL_RGB)}

    def object_positions(self):
        """{"square": (y, x), "ball": (y, x)}: the objects' centres now, float pixels of the game's
        own (size, size) frame (a square whose top-left pixel is (y0, x0) has its centre at
        (y0 + (side - 1) / 2, x0 + (side - 1) / 2))."""
        return {
            "square": self._player + (self.block - 1) / 2.0,
            "ball": self._ball + (self.ball - 1) / 2.0,
        }

    def _render_frame(self):
        frame = np.full((self.size, self.size, 3), BACKGROUND_RGB, dtype=np.uint8)
        y, x = self._player
        frame[y : y + self.block, x : x + self.block] = SQUARE_RGB
        by, bx = self._ball
        frame[by : by + self.ball, bx : bx + self.ball] = BALL_RGB
        return frame

    def render(self, mode="rgb_array"):
        return self._render_frame()


def register_synthetic_envs():
    """Register ``BlockWorld-v0`` (32x32 frames, 100-step episodes) and ``BlockWorld-v1``
    (a 4-pixel ball and a bottom wall that ends episodes) with gym."""
    from gym.envs.registration import register, registry

    for env_id, kwargs in (("BlockWorld-v0", {}), ("BlockWorld-v1", {"bottom_ends": True, "ball": 4})):
        if env_id not in registry.env_specs:
            register(
                id=env_id,
                entry_point="recurrent_sim.envs.synthetic:BlockWorldEnv",
                kwargs=kwargs,
                max_episode_steps=100,
            )
