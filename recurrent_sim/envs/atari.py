"""One Atari game in the ALE (through ale-py) with gym's historical ``AtariEnv`` semantics.

Registered under the classic ids (:mod:`recurrent_sim.envs.atari_ids`,
:mod:`recurrent_sim.envs.registration`).
"""
import logging
import os

import ale_py
import cv2
import gym
import numpy as np
from ale_py import roms
from gym import spaces
from gym.utils import seeding

from recurrent_sim.envs.atari_ids import game_to_rom_id, rom_id_to_game

logger = logging.getLogger(__name__)

SCREEN_SHAPE = (210, 160)

ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)


def _check_frameskip(frameskip):
    if isinstance(frameskip, (int, np.integer)) and not isinstance(frameskip, bool):
        if frameskip > 0:
            return int(frameskip)
    elif isinstance(frameskip, (tuple, list)) and len(frameskip) == 2:
        low, high = (int(bound) for bound in frameskip)
        if 0 < low < high:
            return (low, high)
    raise ValueError(
        f"frameskip must be a positive int or a pair (low, high) with "
        f"0 < low < high, not {frameskip!r}"
    )


class AtariEnv(gym.Env):
    """One Atari game in the ALE, with gym's historical ``AtariEnv`` semantics.

    Args:
        game: game name, PascalCase ('SpaceInvaders') or ROM id ('space_invaders').
        frameskip: emulator frames per step. An int k repeats the action k
            times; a pair (low, high) draws k uniformly from low..high-1 at
            every step. Rewards of the repeated frames are summed.
        repeat_action_probability: probability that the ALE repeats the
            previous action instead of the new one, at each frame (sticky
            actions).
        full_action_space: use all 18 joystick actions instead of the
            game's minimal set.
        obs_type: 'rgb' ((210, 160, 3) uint8), 'grayscale' ((210, 160)
            uint8, the ALE's palette luminance) or 'ram' ((128,) uint8).

    ``step`` returns ``(obs, reward, done, info)`` with ``info["lives"]``
    and the ALE's frame counters.
    """

    metadata = {"render.modes": ["human", "rgb_array"]}

    def __init__(
        self,
        game="pong",
        frameskip=(2, 5),
        repeat_action_probability=0.0,
        full_action_space=False,
        obs_type="rgb",
    ):
        if obs_type == "image":  # gym's historical name for "rgb"
            obs_type = "rgb"
        if obs_type not in ("rgb", "grayscale", "ram"):
            raise ValueError(
                f"obs_type must be 'rgb', 'grayscale' or 'ram', not {obs_type!r}"
            )
        if not 0.0 <= repeat_action_probability <= 1.0:
            raise ValueError(
                "repeat_action_probability must be in [0, 1], "
                f"not {repeat_action_probability!r}"
            )
        self.game = game_to_rom_id(game)
        self.frameskip = _check_frameskip(frameskip)
        self.repeat_action_probability = float(repeat_action_probability)
        self.obs_type = obs_type
        self._rom_path = str(roms.get_rom_path(self.game))
        self._viewer_open = False
        self._warned_no_display = False

        self.ale = ale_py.ALEInterface()
        self.ale.setFloat("repeat_action_probability", self.repeat_action_probability)
        self.seed()  # also loads the ROM

        if full_action_space:
            self._action_set = self.ale.getLegalActionSet()
        else:
            self._action_set = self.ale.getMinimalActionSet()
        self.action_space = spaces.Discrete(len(self._action_set))
        if obs_type == "ram":
            shape = (self.ale.getRAMSize(),)
        elif obs_type == "grayscale":
            shape = SCREEN_SHAPE
        else:
            shape = SCREEN_SHAPE + (3,)
        self.observation_space = spaces.Box(0, 255, shape, np.uint8)

    def seed(self, seed=None):
        """Seed the frameskip RNG and the ALE, then reload the ROM.

        Returns ``[main_seed, ale_seed]``; ``seed(main_seed)`` reproduces both.
        """
        self.np_random, main_seed = seeding.np_random(seed)
        ale_seed = int(np.random.SeedSequence([main_seed, 1]).generate_state(1)[0])
        ale_seed %= 2**31  # the ALE reads it as a signed int
        # The ALE applies its seed when a ROM is loaded, hence the reload.
        self.ale.setInt("random_seed", ale_seed)
        self.ale.loadROM(self._rom_path)
        return [main_seed, ale_seed]

    def reset(self, *, seed=None, return_info=False, options=None):
        """Start a new game; returns the first observation (and info if asked)."""
        if seed is not None:
            self.seed(seed)
        self.ale.reset_game()
        obs = self._get_obs()
        return (obs, self._get_info()) if return_info else obs

    def step(self, action):
        """Play ``action`` for ``frameskip`` frames; return (obs, reward, done, info).

        The reward is the sum over the frames; ``done`` is the ALE's game over.
        """
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r} for {self.action_space}")
        if isinstance(self.frameskip, int):
            n_frames = self.frameskip
        else:
            n_frames = int(self.np_random.integers(*self.frameskip))
        ale_action = self._action_set[int(action)]
        reward = 0.0
        for _ in range(n_frames):
            reward += self.ale.act(ale_action)
        return self._get_obs(), reward, self.ale.game_over(), self._get_info()

    def _get_obs(self):
        if self.obs_type == "ram":
            return self.ale.getRAM()
        if self.obs_type == "grayscale":
            return self.ale.getScreenGrayscale()
        return self.ale.getScreenRGB()

    def _get_info(self):
        return {
            "lives": self.ale.lives(),
            "episode_frame_number": self.ale.getEpisodeFrameNumber(),
            "frame_number": self.ale.getFrameNumber(),
        }

    def render(self, mode="rgb_array"):
        """Return the screen, (210, 160, 3) uint8 RGB.

        ``mode="human"`` also shows it in a window when a display and an
        OpenCV GUI exist; otherwise it logs one warning and only returns it.
        """
        if mode not in self.metadata["render.modes"]:
            raise ValueError(
                f"render mode must be 'human' or 'rgb_array', not {mode!r}"
            )
        frame = self.ale.getScreenRGB()
        if mode == "human" and not self._show(frame):
            if not self._warned_no_display:
                logger.warning("no display available: render('human') shows nothing")
                self._warned_no_display = True
        return frame

    def _show(self, frame):
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return False
        try:
            cv2.imshow(self._window_name, frame[:, :, ::-1])
            cv2.waitKey(1)
        except cv2.error:  # opencv-python-headless has no GUI
            return False
        self._viewer_open = True
        return True

    @property
    def _window_name(self):
        return f"{rom_id_to_game(self.game)} ({id(self):x})"

    def get_action_meanings(self):
        """Names of the actions, e.g. ['NOOP', 'FIRE', 'RIGHT', 'LEFT']."""
        return [action.name for action in self._action_set]

    def get_keys_to_action(self):
        """Map sorted key codes (w, a, s, d, space) to actions, for gym's play tool."""
        key_by_word = {"UP": "w", "DOWN": "s", "LEFT": "a", "RIGHT": "d", "FIRE": " "}
        keys_to_action = {}
        for action, meaning in enumerate(self.get_action_meanings()):
            keys = [ord(key) for word, key in key_by_word.items() if word in meaning]
            keys_to_action[tuple(sorted(keys))] = action
        return keys_to_action

    def close(self):
        """Close the window opened by ``render('human')``, if any."""
        if self._viewer_open:
            cv2.destroyWindow(self._window_name)
            self._viewer_open = False
