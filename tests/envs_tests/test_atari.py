"""Tests of the ALE-backed gym Atari environments and their registration."""

import ale_py
import gym
import numpy as np
import pytest
from ale_py import roms

from recurrent_sim.envs import AtariEnv, UnknownEnvError, make_env, register_atari_envs
from recurrent_sim.envs import atari_ids as atari


def play(env_id, seed, n_steps, action_seed=0):
    """Frames (n_steps + 1, ...) and rewards (n_steps,) of random play."""
    env = make_env(env_id, seed=seed)
    actions = np.random.default_rng(action_seed).integers(
        env.action_space.n, size=n_steps
    )
    frames, rewards = [env.reset()], []
    for action in actions:
        frame, reward, _, _ = env.step(int(action))
        frames.append(frame)
        rewards.append(reward)
    return np.array(frames), np.array(rewards)


def test_breakout_v0_through_gym_make():
    env = gym.make("Breakout-v0")
    obs = env.reset()
    assert obs.shape == (210, 160, 3) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    assert str(env.action_space) == "Discrete(4)"
    assert isinstance(env, gym.wrappers.TimeLimit)
    assert env.spec.max_episode_steps == 10000
    _, _, done, info = env.step(1)
    assert not done and info["lives"] == 5


@pytest.mark.parametrize(
    "env_id, sticky, frameskip, max_episode_steps",
    [
        ("Breakout-v0", 0.25, (2, 5), 10000),
        ("Breakout-v4", 0.0, (2, 5), 100000),
        ("BreakoutDeterministic-v0", 0.25, 4, 100000),
        ("BreakoutDeterministic-v4", 0.0, 4, 100000),
        ("BreakoutNoFrameskip-v0", 0.25, 1, 400000),
        ("BreakoutNoFrameskip-v4", 0.0, 1, 400000),
        ("SpaceInvadersDeterministic-v4", 0.0, 3, 100000),
        ("SpaceInvadersNoFrameskip-v4", 0.0, 1, 300000),
        ("MontezumaRevengeNoFrameskip-v4", 0.0, 1, 400000),
    ],
)
def test_variant_settings(env_id, sticky, frameskip, max_episode_steps):
    env = make_env(env_id)
    assert env.spec.max_episode_steps == max_episode_steps
    assert env._max_episode_steps == max_episode_steps  # the TimeLimit wrapper
    unwrapped = env.unwrapped
    assert isinstance(unwrapped, AtariEnv)
    assert unwrapped.frameskip == frameskip
    assert unwrapped.repeat_action_probability == sticky
    assert unwrapped.ale.getFloat("repeat_action_probability") == pytest.approx(sticky)


@pytest.mark.parametrize(
    "game, n_actions",
    [
        ("Pong", 6),
        ("Breakout", 4),
        ("SpaceInvaders", 6),
        ("MsPacman", 9),
        ("Seaquest", 18),
        ("MontezumaRevenge", 18),
        ("Atlantis2", 4),
        ("TicTacToe3D", 10),
    ],
)
def test_games(game, n_actions):
    env = make_env(f"{game}NoFrameskip-v4", seed=0)
    assert env.action_space.n == n_actions
    assert len(env.unwrapped.get_action_meanings()) == n_actions
    assert env.reset().shape == (210, 160, 3)
    assert env.step(n_actions - 1)[0].shape == (210, 160, 3)


def test_full_action_space_and_meanings():
    env = AtariEnv("breakout", full_action_space=True)
    assert env.action_space.n == 18
    meanings = AtariEnv("Breakout").get_action_meanings()
    assert meanings == ["NOOP", "FIRE", "RIGHT", "LEFT"]
    keys = AtariEnv("Breakout").get_keys_to_action()
    assert keys == {(): 0, (ord(" "),): 1, (ord("d"),): 2, (ord("a"),): 3}


def test_obs_types():
    assert AtariEnv("pong", obs_type="grayscale").reset().shape == (210, 160)
    assert AtariEnv("pong", obs_type="ram").reset().shape == (128,)
    with pytest.raises(ValueError, match="obs_type"):
        AtariEnv("pong", obs_type="pixels")


@pytest.mark.parametrize(
    "rom_id, game",
    [
        ("breakout", "Breakout"),
        ("space_invaders", "SpaceInvaders"),
        ("montezuma_revenge", "MontezumaRevenge"),
        ("atlantis2", "Atlantis2"),
        ("pitfall2", "Pitfall2"),
        ("tic_tac_toe_3d", "TicTacToe3D"),
        ("up_n_down", "UpNDown"),
    ],
)
def test_game_names(rom_id, game):
    assert atari.rom_id_to_game(rom_id) == game
    assert atari.game_to_rom_id(game) == rom_id
    assert atari.game_to_rom_id(rom_id) == rom_id


def test_game_names_round_trip_for_every_rom():
    assert len(set(atari.GAMES)) == len(atari.ROM_IDS) >= 100
    for rom_id, game in zip(atari.ROM_IDS, atari.GAMES):
        assert atari.game_to_rom_id(game) == rom_id


def test_unsupported_and_unknown_games_raise_instead_of_exiting():
    # Loading combat.bin makes the ALE exit the process; we must refuse first.
    assert "combat" in roms.get_all_rom_ids()
    assert "combat" not in atari.ROM_IDS
    with pytest.raises(ValueError, match="combat"):
        AtariEnv("combat")
    with pytest.raises(ValueError, match="did you mean: Breakout"):
        AtariEnv("Breakot")


def test_every_supported_rom_is_registered_once():
    supported = [
        rom_id
        for rom_id in roms.get_all_rom_ids()
        if ale_py.ALEInterface.isSupportedROM(str(roms.get_rom_path(rom_id)))
    ]
    assert list(atari.ROM_IDS) == supported
    n_specs = len(gym.envs.registry.env_specs)
    env_ids = register_atari_envs()  # a second registration changes nothing
    assert len(gym.envs.registry.env_specs) == n_specs
    assert len(env_ids) == len(set(env_ids)) == 6 * len(supported)
    for env_id in env_ids:
        assert env_id in gym.envs.registry.env_specs


def test_unknown_id_names_close_matches():
    with pytest.raises(UnknownEnvError) as excinfo:
        make_env("Breakou-v0")
    message = str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    assert "\n" not in message
    assert "'Breakou-v0'" in message and "Breakout-v0" in message
    assert excinfo.value.suggestions[0] == "Breakout-v0"
    with pytest.raises(UnknownEnvError, match="SpaceInvaders-v4"):
        make_env("SpaceInvader-v4")
    with pytest.raises(gym.error.Error):
        gym.make("Breakou-v0")


def test_same_seed_same_frames():
    frames_a, rewards_a = play("Breakout-v0", seed=3, n_steps=100)
    frames_b, rewards_b = play("Breakout-v0", seed=3, n_steps=100)
    np.testing.assert_array_equal(frames_a, frames_b)
    np.testing.assert_array_equal(rewards_a, rewards_b)


@pytest.mark.parametrize(
    "env_id",
    [
        "BreakoutNoFrameskip-v0",  # only the ALE's sticky actions are random
        "Breakout-v4",  # only the frameskip draws are random
    ],
)
def test_different_seeds_differ(env_id):
    frames_a, _ = play(env_id, seed=1, n_steps=100)
    frames_b, _ = play(env_id, seed=2, n_steps=100)
    assert (frames_a != frames_b).any()


def test_seed_returns_reproducible_seeds():
    env = AtariEnv("pong")
    main_seed, ale_seed = env.seed(5)
    assert main_seed == 5 and 0 <= ale_seed < 2**31
    assert env.seed(5) == [5, ale_seed]
    assert env.seed(6)[1] != ale_seed


def test_frameskip_repeats_action_and_sums_rewards():
    """Four NoFrameskip steps equal one Deterministic step, frames and reward."""
    single = make_env("PongNoFrameskip-v4", seed=0)
    skipping = make_env("PongDeterministic-v4", seed=0)
    single.reset()
    skipping.reset()
    actions = np.random.default_rng(0).integers(6, size=300)
    total_reward = 0.0
    for action in actions:
        reward_single = 0.0
        for _ in range(4):
            frame_single, reward, _, _ = single.step(int(action))
            reward_single += reward
        frame_skipping, reward_skipping, _, info = skipping.step(int(action))
        np.testing.assert_array_equal(frame_single, frame_skipping)
        assert reward_single == reward_skipping
        total_reward += abs(reward_skipping)
    assert total_reward > 0  # rewards did happen, so the sum was checked
    assert info["episode_frame_number"] == 4 * len(actions)


def test_random_frameskip_draws_two_to_four_frames():
    env = make_env("Breakout-v4", seed=0)
    env.reset()
    frame_number, skips = 0, set()
    for _ in range(60):
        info = env.step(0)[3]
        skips.add(info["episode_frame_number"] - frame_number)
        frame_number = info["episode_frame_number"]
    assert skips == {2, 3, 4}


@pytest.mark.parametrize("frameskip", [0, -1, (5, 2), (0, 3), (1, 2, 3), 2.5])
def test_invalid_frameskip(frameskip):
    with pytest.raises(ValueError, match="frameskip"):
        AtariEnv("pong", frameskip=frameskip)


def test_invalid_action():
    env = AtariEnv("breakout")
    env.reset()
    for action in (4, -1):
        with pytest.raises(ValueError, match="invalid action"):
            env.step(action)


def test_render_without_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    env = make_env("BreakoutNoFrameskip-v4", seed=0)
    obs = env.reset()
    np.testing.assert_array_equal(env.render(mode="rgb_array"), obs)
    np.testing.assert_array_equal(env.render(mode="human"), obs)
    with pytest.raises(ValueError, match="render mode"):
        env.render(mode="ansi")
    env.close()


def test_reset_with_seed_and_info():
    env = AtariEnv("breakout", frameskip=(2, 5))
    obs, info = env.reset(seed=4, return_info=True)
    assert obs.shape == (210, 160, 3) and info["lives"] == 5
