"""Atari games as gym environments, backed by ale-py, under the classic ids.

gym 0.22 registers no Atari game, and atari-py's ROMs cannot be obtained
offline. ale-py ships its ROMs, so this module rebuilds gym's historical
``AtariEnv`` on top of it and registers the classic ids for every ROM that
the ALE can run single-player:

=============================  ======  ==============  =================
id                             sticky  frameskip       max_episode_steps
=============================  ======  ==============  =================
``<Game>-v0``                  0.25    2 to 4 (random) 10 000
``<Game>-v4``                  0       2 to 4 (random) 100 000
``<Game>Deterministic-v0/v4``  0.25/0  4 (3 for         100 000
                                       SpaceInvaders)
``<Game>NoFrameskip-v0/v4``    0.25/0  1               100 000 x the
                                                       Deterministic
                                                       frameskip
=============================  ======  ==============  =================

``<Game>`` is the ROM id in PascalCase: ``breakout`` -> ``Breakout``,
``space_invaders`` -> ``SpaceInvaders``, ``tic_tac_toe_3d`` -> ``TicTacToe3D``.
Use :func:`make_env` rather than ``gym.make`` in the package: it names close
matches when an id is misspelt.
"""

import difflib
import logging
import os
import warnings

import ale_py
import cv2
import gym
import numpy as np
from ale_py import roms
from gym import spaces
from gym.utils import seeding

from recurrent_sim.errors import UserError

logger = logging.getLogger(__name__)

ENTRY_POINT = "recurrent_sim.envs.atari:AtariEnv"
SCREEN_SHAPE = (210, 160)

ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)


def rom_id_to_game(rom_id):
    """PascalCase game name of an ale-py ROM id: 'pitfall2' -> 'Pitfall2'."""
    return rom_id.title().replace("_", "")


def _normalise(name):
    return name.lower().replace("_", "").replace("-", "")


# ROM ids whose ROM the ALE can run single-player. Loading any other ROM
# (combat, joust, maze_craze, warlords) makes the ALE exit the process.
ROM_IDS = tuple(
    rom_id
    for rom_id in roms.get_all_rom_ids()
    if ale_py.ALEInterface.isSupportedROM(str(roms.get_rom_path(rom_id)))
)
GAMES = tuple(rom_id_to_game(rom_id) for rom_id in ROM_IDS)
_ROM_ID_BY_KEY = {_normalise(rom_id): rom_id for rom_id in ROM_IDS}


def game_to_rom_id(game):
    """Return the ROM id of a game named in PascalCase or snake_case.

    'SpaceInvaders', 'space_invaders' and 'spaceinvaders' all give
    'space_invaders'. Raises ValueError naming close matches otherwise.
    """
    rom_id = _ROM_ID_BY_KEY.get(_normalise(game))
    if rom_id is None:
        close = difflib.get_close_matches(game, GAMES + ROM_IDS, n=3, cutoff=0.6)
        hint = f"; did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown or unsupported Atari game {game!r}{hint}")
    return rom_id


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


class UnknownEnvError(UserError, ValueError):
    """An environment id that gym does not know; the message names close matches."""

    def __init__(self, env_id, suggestions):
        self.env_id = env_id
        self.suggestions = list(suggestions)
        if self.suggestions:
            hint = f"did you mean: {', '.join(self.suggestions)}?"
        else:
            hint = "Atari ids look like Breakout-v0 or PongNoFrameskip-v4"
        super().__init__(f"unknown environment {env_id!r}; {hint}")


def _variants(game):
    """Yield ``(env_id, kwargs, max_episode_steps)`` for each id of one ROM."""
    name = rom_id_to_game(game)
    fixed_skip = 3 if game == "space_invaders" else 4  # as gym had it
    for version, sticky, random_skip_steps in (
        ("v0", 0.25, 10000),
        ("v4", 0.0, 100000),
    ):
        for suffix, frameskip, max_episode_steps in (
            ("", (2, 5), random_skip_steps),
            ("Deterministic", fixed_skip, 100000),
            ("NoFrameskip", 1, fixed_skip * 100000),
        ):
            kwargs = {
                "game": game,
                "frameskip": frameskip,
                "repeat_action_probability": sticky,
            }
            yield f"{name}{suffix}-{version}", kwargs, max_episode_steps


def register_atari_envs():
    """Register the classic ids of every supported ROM with gym; idempotent.

    Ids that gym already knows are left alone. Returns the list of all the
    Atari ids of this module.
    """
    env_ids = []
    for game in ROM_IDS:
        for env_id, kwargs, max_episode_steps in _variants(game):
            env_ids.append(env_id)
            if env_id not in gym.envs.registry.env_specs:
                gym.envs.registration.register(
                    id=env_id,
                    entry_point=ENTRY_POINT,
                    kwargs=kwargs,
                    max_episode_steps=max_episode_steps,
                )
    return env_ids


def make_env(env_id, seed=None):
    """Make the gym environment ``env_id`` (wrapped in TimeLimit), seeded if asked.

    Raises:
        UnknownEnvError: ``env_id`` is not registered; the message names
            the closest registered ids.
        UserError: the environment could not be built.
    """
    try:
        gym.spec(env_id)
    except gym.error.Error as error:
        known = list(gym.envs.registry.env_specs)
        by_lower = {known_id.lower(): known_id for known_id in known}
        close = difflib.get_close_matches(env_id.lower(), by_lower, n=4, cutoff=0.6)
        raise UnknownEnvError(env_id, [by_lower[c] for c in close]) from error
    with warnings.catch_warnings():
        # gym 0.22 calls every -v0 id "out of date" because a -v4 exists; the
        # two differ in sticky actions, neither replaces the other.
        warnings.filterwarnings("ignore", message=".*is out of date")
        try:
            env = gym.make(env_id)
        except (ValueError, gym.error.Error) as error:
            raise UserError(f"cannot make environment {env_id}: {error}") from None
    if seed is not None:
        env.seed(seed)
    logger.debug("made %s (seed %s)", env_id, seed)
    return env
