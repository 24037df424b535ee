"""The three modes of the original script, each a function of its flags (``args``), the run
folder and what :mod:`.preparation` checked; each returns the exit status.

Training plays the real game with chainerrl's ``train_agent`` (one game) or
``train_agent_async`` (``processes`` N > 1, :mod:`recurrent_sim.agents.game_processes`);
every transition trains the one simulator. --train-in-sim trains the agent
in the simulated game only; --demo lets the agent play inside the simulator.
"""
import os
import sys
import time

from recurrent_sim.agents.game_processes import GameProcesses, train_from_games
from recurrent_sim.agents.hooks import EverySteps, ProgressFields, Scores, lr_decay_hook, train_agent_with_hooks
from recurrent_sim.agents.episode_loops import DemoRecorder, RewardFilter, run_episodes, summarize
from recurrent_sim.commands.original.games import make_agent, make_game
from recurrent_sim.commands.original.preparation import SimulatorSetup, TrainingSetup
from recurrent_sim.data import SampleBuffer
from recurrent_sim.data.episodes import EpisodeDataset
from recurrent_sim.data.game_buffers import MultiGameBuffer
from recurrent_sim.envs.demo_env import SimulatorDemoEnv
from recurrent_sim.envs.simulated_game import SimulatedGame
from recurrent_sim.envs.warmup_sources import DatasetWarmups, LiveWarmups
from recurrent_sim.envs.wrappers import AgentReward, EpisodeReturns, TransitionRecorder
from recurrent_sim.training import SimulatorTrainer
from recurrent_sim.training.savesim import not_saved_message
from recurrent_sim.utils.progress import Progress
from recurrent_sim.utils.settings import offset_seed
from recurrent_sim.utils.signals import StopRequest


def print_stats(returns, prefix=""):
    """One line: number, mean, median and stdev of episode returns."""
    stats = summarize(returns)
    print(f"{prefix}n_runs: {stats['n_runs']} mean: {stats['mean']} median: {stats['median']} "
          f"stdev {stats['stdev']}", flush=True)


def print_rates(steps, seconds, steps_of_game, updates):
    """The speed of a training run: environment steps/s (all games) and simulator updates/s."""
    seconds = max(seconds, 1e-9)
    print(f"{steps} steps in {seconds:.1f} s ({steps / seconds:.1f} steps/s; per game: "
          f"{', '.join(map(str, steps_of_game))}), {updates} simulator updates ({updates / seconds:.2f} updates/s)",
          flush=True)


def evaluator(args, agent, scores, description):
    """``evaluate(step)``: --eval-n-runs episodes of the real game, a row of ``scores`` and a line."""
    game = make_game(args, offset_seed(args.seed, 1))

    def evaluate(step):
        returns = run_episodes(game, agent, args.eval_n_runs, description=description)
        scores.record(step, returns)
        print_stats(returns, prefix=f"{description} at step {step}: ")

    return evaluate


def make_trainer(args, outdir, setup: TrainingSetup, buffer) -> SimulatorTrainer:
    """The simulator trainer on ``buffer``, saving to --savesim under the plan of what it may replace."""
    size = buffer.frame_shape[0]
    settings = {"frame_size": size, "seed": args.seed}
    if args.processes > 1:
        settings["processes"] = args.processes
    trainer = SimulatorTrainer(setup.simulator, setup.optimizer, buffer, setup.sequence, setup.schedule,
                               savesim=args.savesim, metadata={"env_id": args.env, "settings": settings},
                               run_log=outdir)
    if setup.plan is not None:
        trainer.best_error = setup.plan.error_to_beat
        if setup.plan.message:
            print(setup.plan.message, flush=True)
    print(f"training: {args.steps} steps of {args.env}{f' in {args.processes} games' if args.processes > 1 else ''}; "
          f"simulator ({trainer.simulator.config.hidden_size} LSTM units, {size}x{size} frames) trains every "
          f"{args.training_steps} steps after {args.warm_up_steps}", flush=True)
    return trainer


def save_simulator(args, trainer, setup: TrainingSetup):
    """The final save of a training run to --savesim (if it learnt and is the best), and what happened."""
    plan = setup.plan
    # a run that learnt but never beat the saved error replaces it at the end, unless the plan protects it
    trainer.save_if_best(force=bool(trainer.updates) and trainer.last_saved_path is None and not plan.protected)
    if trainer.last_saved_path:
        outcome = plan.outcome()
        print(f"simulator saved in {trainer.last_saved_path} ({trainer.updates} updates, "
              f"best error {trainer.best_error:.6f}){'; ' + outcome if outcome else ''}")
    elif trainer.updates:
        print(not_saved_message(plan, trainer.last_error if trainer.last_error is not None else trainer.best_error))
    else:
        print(f"no simulator saved: it never trained ({trainer.steps} steps played, training starts after "
              f"--warm_up_steps {args.warm_up_steps} once sequences of {setup.sequence.sequence_length} frames "
              "without an episode end are stored)")


def finish_training(args, trainer, setup: TrainingSetup, stop, rates):
    """After the last step: the trainer closed, the speed, a stop request, the simulator saved."""
    trainer.close()
    if stop.requested:
        print(f"{stop.name} received after {trainer.steps} steps: saving what was learnt", file=sys.stderr)
    print_rates(*rates)
    if args.savesim:
        save_simulator(args, trainer, setup)


def agent_hooks(args) -> list:
    """The agent's own step hooks: with --lr-decay, its learning rate falls linearly to 0 over --steps."""
    return [lr_decay_hook(args.steps, args.lr)] if args.lr_decay else []


def run_training(args, outdir, setup: TrainingSetup) -> int:
    """Training with one game: chainerrl's ``train_agent``, every transition handed to the simulator's trainer."""
    if args.processes > 1:
        return run_game_processes(args, outdir, setup)
    game = make_game(args, args.seed, outdir)
    trainer = make_trainer(args, outdir, setup, SampleBuffer(args.buffer_size_sim, game.frame_shape, seed=args.seed))
    played = TransitionRecorder(game, [trainer])
    agent = make_agent(args, setup.n_actions, game.observation_space.shape)
    scores = Scores(outdir, agent)
    evaluate = evaluator(args, agent, scores, "evaluation") if args.eval_n_runs > 0 and args.eval_interval > 0 else None
    started = time.time()

    def finish(step):
        scores.record(trainer.steps, played.returns)
        finish_training(args, trainer, setup, stop, (trainer.steps, time.time() - started, [trainer.steps],
                                                     trainer.updates))

    with StopRequest() as stop, Progress(args.steps, "training", unit="steps", min_interval=10.0) as progress:
        hooks = [ProgressFields(progress, lambda: {"episodes": len(played.returns), **trainer.progress_fields()}),
                 EverySteps(args.eval_interval if evaluate else 0, evaluate)] + agent_hooks(args)
        env = AgentReward(played, RewardFilter(args.min_reward, args.reward_scale_factor))
        agent_dir = train_agent_with_hooks(agent, env, args.steps, outdir, hooks, stop=stop, finish=finish)
    print(f"agent saved in {agent_dir}")
    game.close()
    return stop.exit_code


def run_game_processes(args, outdir, setup: TrainingSetup) -> int:
    """Training with ``processes`` N > 1: N games, each with its agent, feed this process's simulator."""
    size = setup.simulator.config.frame_shape[0]
    trainer = make_trainer(args, outdir, setup, MultiGameBuffer(args.buffer_size_sim, (size, size), args.processes,
                                                                seed=args.seed))
    obs_shape = (args.frame_buffer_length, size, size)
    evaluating = args.eval_n_runs > 0 and args.eval_interval > 0
    games = GameProcesses(
        args.processes,
        # game i plays with seed --seed + 1000 i (game 0 as with one process), evaluations with one more
        # (modulo 2**32); game 0 is the one --monitor records
        make_env=lambda i, test: make_game(args, offset_seed(args.seed, 1000 * i + int(test)),
                                           outdir if i == 0 and not test else None),
        # forked game processes cannot use the CUDA context of this one: their agents run on the CPU
        make_agent=lambda i: make_agent(args, setup.n_actions, obs_shape, seed=offset_seed(args.seed, 1000 * i),
                                        gpu=-1),
        steps=args.steps, outdir=outdir, reward_filter=RewardFilter(args.min_reward, args.reward_scale_factor),
        eval_interval=args.eval_interval if evaluating else None, eval_n_episodes=args.eval_n_runs,
        save_agent=args.agent == "a3c")
    with StopRequest() as stop:
        rates = train_from_games(games, trainer, stop)
    finish_training(args, trainer, setup, stop, (rates["steps"], rates["seconds"], rates["steps_of_game"],
                                                 rates["updates"]))
    return stop.exit_code


def run_training_in_sim(args, outdir, setup: SimulatorSetup) -> int:
    """Train the A3C agent inside the simulated game only; score it on the real game."""
    simulator = setup.simulator
    warmup = max(1, args.unroll_dep if args.sim_warmup_steps is None else args.sim_warmup_steps)
    if args.sim_warmup_data:
        source = DatasetWarmups(EpisodeDataset([args.sim_warmup_data]).episodes, warmup, seed=args.seed)
        origin = f"windows of {args.sim_warmup_data}"
    else:
        source = LiveWarmups(make_game(args, offset_seed(args.seed, 2)), warmup, seed=args.seed)
        origin = "random steps of the real game"
    game = EpisodeReturns(SimulatedGame(simulator, n_frames=args.frame_buffer_length,
                                        max_episode_steps=args.sim_episode_len, warmup_source=source,
                                        reward_mode=args.sim_reward))
    agent = make_agent(args, setup.n_actions, game.observation_space.shape)
    evaluate = evaluator(args, agent, Scores(outdir, agent), "evaluation on the real game")
    heads = (f"reward ({args.sim_reward}) and episode end from its heads" if simulator.has_heads
             else "no heads: reward 0")
    print(f"training in the simulated game: {args.steps} steps ({heads}; warm-ups of {warmup} frames from "
          f"{origin}; simulated episodes of at most {args.sim_episode_len} steps)", flush=True)

    def finish(step):
        if game.returns:
            print_stats(game.returns, prefix="returns inside the simulated game: ")
        if args.eval_n_runs and not (args.eval_interval and step % args.eval_interval == 0):
            evaluate(step)

    with StopRequest() as stop, Progress(args.steps, "training", unit="steps", min_interval=10.0) as progress:
        hooks = [ProgressFields(progress, lambda: {"episodes": len(game.returns)}),
                 EverySteps(args.eval_interval if args.eval_n_runs else 0, evaluate)] + agent_hooks(args)
        env = AgentReward(game, RewardFilter(args.min_reward, args.reward_scale_factor))
        agent_dir = train_agent_with_hooks(agent, env, args.steps, outdir, hooks, stop=stop, finish=finish)
    print(f"agent saved in {agent_dir}")
    return stop.exit_code


def run_demo(args, outdir, setup: SimulatorSetup) -> int:
    """--eval-n-runs episodes of the agent inside the simulator, re-synchronised with the real game."""
    game = make_game(args, args.seed, outdir)
    warmup = args.unroll_dep if args.sim_warmup_steps is None else args.sim_warmup_steps
    env = SimulatorDemoEnv(game, simulator=setup.simulator, warmup_steps=warmup, chain_period=args.chain_period)
    agent = make_agent(args, setup.n_actions, game.observation_space.shape)
    recorder = DemoRecorder(outdir, side_by_side_frames=args.render_b2w, saliency_interval=args.saliency_interval,
                            gif_frames=args.gif_frames, raw_frames=args.render)
    scores = Scores(outdir, agent)
    print(f"demo: {args.eval_n_runs} episodes in the simulator of {setup.checkpoint.path} "
          f"(warm-up {warmup} real steps, re-sync every {args.chain_period} steps)", flush=True)
    returns = run_episodes(env, agent, args.eval_n_runs, recorder=recorder)
    env.close()
    scores.record(0, returns)
    for kind, folder in (("b2w", "b2w"), ("saliency", "saliency"), ("render", "render")):
        if recorder.written[kind]:
            print(f"{recorder.written[kind]} {kind} images in {os.path.join(outdir, folder)}")
    if recorder.written["gif"]:
        print(f"{recorder.written['gif']} animated GIFs in {os.path.join(outdir, 'b2w')}")
    print_stats(returns)
    return 0
