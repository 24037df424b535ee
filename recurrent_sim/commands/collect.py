"""``recurrent-sim collect``: play a game and record its episodes to a dataset folder.

The frames stored are the preprocessed frames the simulator learns:
gray, ``--frame-size`` square by default; ``--frame-size 210x160`` keeps
Atari's own size and ``--color rgb`` keeps the colours, (3, H, W), as the
paper's frames (the agent plays on gray frames of the same size). Episode i is played from a reset seeded with a
seed derived from ``--seed`` and i, so running the same command again on a
folder continues it (up to ``--episodes`` episodes in all) and gives the
episodes an uninterrupted run would have given (exactly so with ``--policy
random``). Ctrl-C or SIGTERM drops the episode being played; the finished
ones are on disk. See :mod:`recurrent_sim.data.episodes` for the format.
"""
import logging
import os

import numpy as np

from recurrent_sim.commands.common import add_env_arguments, run_settings
from recurrent_sim.commands.flags import EPISODES, LOAD, MAX_EPISODE_STEPS, OUT, POLICY
from recurrent_sim.envs import FRAME_BUFFER_LENGTH, make_game
from recurrent_sim.utils.device import use_device
from recurrent_sim.data.dataset_check import check_episodes_readable
from recurrent_sim.data.episodes import Episode, EpisodeWriter
from recurrent_sim.models.footprint import MAX_ACTIONS, agent_bytes
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.locks import FolderLock
from recurrent_sim.utils.memory import check_fits
from recurrent_sim.utils.signals import StopRequest
from recurrent_sim.utils.progress import Progress
from recurrent_sim.utils.run_folder import write_run_config
from recurrent_sim.utils.run_log import RunLog
from recurrent_sim.commands.validation import check_agent_frame_size, one_line_errors

logger = logging.getLogger(__name__)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "collect",
        help="play a game and record episodes for offline training",
        description="Play a game with the non-learning agent, a trained agent (--load) or random actions, "
        "and write the episodes to a dataset folder. Running it again on the same folder continues it.",
    )
    one_line_errors(parser)
    add_env_arguments(parser, frame_choices=True)
    OUT.add_to(parser, required=True, help="dataset folder (created if missing; an existing one is continued)",
               show_default=False)
    EPISODES.add_to(parser)
    MAX_EPISODE_STEPS.add_to(parser, default_text="the game's own limit")
    POLICY.add_to(parser)
    LOAD.add_to(parser, help="folder of a trained agent to play with", default_text="untrained")
    FRAME_BUFFER_LENGTH.add_to(parser)
    parser.set_defaults(func=run)


def episode_seed(seed, index) -> int:
    """Reset seed of episode ``index`` of a collection seeded with ``seed``."""
    return int(np.random.SeedSequence([int(seed) % 2**32, index]).generate_state(1)[0] % 2**31)


class RandomPolicy:
    """Uniformly random actions, seeded per episode."""

    def __init__(self, n_actions):
        self.n_actions = n_actions
        self.description = "random"
        self.rng = None

    def start_episode(self, seed):
        self.rng = np.random.default_rng([seed, 1])

    def act(self, observation) -> int:
        return int(self.rng.integers(self.n_actions))

    def stop_episode(self):
        pass


class AgentPolicy:
    """The acting A3C agent: ``act((frames, H, W) uint8 observation) -> action``."""

    def __init__(self, n_actions, obs_shape, load, seed, gpu):
        from recurrent_sim.agents import make_acting_agent

        self.agent = make_acting_agent(n_actions, obs_shape=obs_shape, load=load, seed=seed, gpu=gpu)
        self.description = f"agent:{load}" if load else "agent:untrained"

    def start_episode(self, seed):
        pass

    def act(self, observation) -> int:
        return int(self.agent.act(observation))

    def stop_episode(self):
        stop = getattr(self.agent, "stop_episode", None)
        if stop is not None:
            stop()


def play_episode(game, policy, seed, max_steps, stop):
    """Play one episode from a reset seeded with ``seed``.

    Returns an :class:`Episode`, or None when ``stop`` was requested before
    it ended.
    """
    game.seed(seed)
    policy.start_episode(seed)
    observation = game.reset()
    frames, actions, rewards = [game.last_frame], [], []
    done = False
    while not done and (max_steps is None or len(actions) < max_steps):
        if stop.requested:
            return None
        action = policy.act(observation)
        observation, reward, done, _ = game.step(action)
        frames.append(game.last_frame)
        actions.append(action)
        rewards.append(reward)
    policy.stop_episode()
    ends = np.zeros(len(actions), dtype=bool)
    ends[-1:] = done
    return Episode(np.stack(frames), np.asarray(actions, np.int32), np.asarray(rewards, np.float32), ends)


def run(args) -> int:
    from recurrent_sim.envs.synthetic import register_synthetic_envs

    register_synthetic_envs()
    if args.load is not None and args.policy == "random":
        raise UserError("--load gives the agent to play with; it cannot be combined with --policy random")
    height, width = args.frame_size
    if min(height, width) < 16:
        given = height if height == width else f"{height}x{width}"
        raise UserError(f"--frame-size {given} is too small: the simulator needs frames of 16 pixels or more")
    if args.policy == "agent":
        check_agent_frame_size(min(height, width), "use --policy random or a larger --frame-size")
    use_device(args.gpu)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserError(f"--out {args.out} is a file; give a folder")
    with FolderLock(args.out, "--out"):  # one writer per dataset folder
        check_episodes_readable(args.out)
        return _collect(args)


def _collect(args) -> int:
    size = tuple(args.frame_size)
    obs_shape = (args.frame_buffer_length,) + size
    check_fits(agent_bytes(obs_shape, MAX_ACTIONS) + 4 * (obs_shape[0] + 3) * size[0] * size[1],
               f"the agent and frames (--frame-size {size[0]}x{size[1]}, "
               f"--frame-buffer-length {args.frame_buffer_length})",
               "lower --frame-size")
    game = make_game(args.env, seed=args.seed, frame_size=size, n_frames=args.frame_buffer_length, color=args.color)
    preprocessing = {
        "gray": "0.299 R + 0.587 G + 0.114 B",
        "resize": "area interpolation",
        "color": args.color,
        "frame_shape": list(game.image_shape),
    }
    if args.color == "rgb":
        preprocessing["gray"] = "only what the agent sees"
    if args.policy == "random":
        policy = RandomPolicy(game.action_space.n)
    else:
        policy = AgentPolicy(game.action_space.n, obs_shape, args.load, args.seed, args.gpu)
    writer = EpisodeWriter(args.out, args.env, game.image_shape, game.action_space.n, preprocessing)
    write_run_config(args.out, run_settings(args))
    log = RunLog(args.out, ("episode", "steps", "episode_return", "total_steps"), step_field="episode",
                 curve_fields=("episode_return",)).open()
    if writer.num_episodes >= args.episodes:
        print(f"{args.out} already holds {writer.num_episodes} episodes ({writer.total_steps} steps); nothing to do")
        return 0
    try:
        with StopRequest() as stop, Progress(args.episodes - writer.num_episodes, "collecting", unit="episodes") as bar:
            while writer.num_episodes < args.episodes:
                seed = episode_seed(args.seed, writer.num_episodes)
                episode = play_episode(game, policy, seed, args.max_episode_steps, stop)
                if episode is None:
                    break
                writer.add(episode, seed=seed, policy=policy.description)
                episode_return = float(episode.rewards.sum(dtype=np.float64))
                log.append({"episode": writer.num_episodes, "steps": episode.steps, "episode_return": episode_return,
                            "total_steps": writer.total_steps})
                bar.update(1, steps=writer.total_steps, episode_return=episode_return)
    finally:
        game.close()
        log.write()
        log.close()  # draws the curve
    summary = f"{args.out}: {writer.num_episodes} episodes, {writer.total_steps} steps"
    if stop.requested:
        print(f"{stop.name} received: the unfinished episode was dropped; {summary}; run the same command to continue")
        return stop.exit_code
    print(summary)
    return 0
