"""The classic gym ids of the Atari games that ale-py ships.

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
The environment class is :class:`recurrent_sim.envs.atari.AtariEnv`; the ids
are registered by :mod:`recurrent_sim.envs.registration`.
"""

import difflib

import ale_py
from ale_py import roms

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


def variants(game):
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
