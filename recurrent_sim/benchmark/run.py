"""Throughput of the simulator, its plain step-by-step reference, and the game.

:func:`run_benchmark` measures, in one process and one run:

* **training**: simulator updates (:class:`UpdateStep`: loss, finite checks, backward, Adam step) on batches of
  sequences sampled from frames the game produced, in frames per second,
  one frame being one step of one sequence (``batch * (sequence_length -
  1)`` per update); for the fast path (:func:`sequence_loss` on the
  channels-last CPU convolutions) and for the reference
  (:func:`reference_sequence_loss` on Chainer's own convolutions), so the
  speed-up is a ratio measured side by side;
* **inference**: :class:`RolloutBatch` steps at batch 1 and at a large
  batch, and the reference's batch-1 step (encode -> transition -> decode
  on Chainer's convolutions), in simulated game steps per second;
* **prediction-independent simulator** (architecture ``independent``, same
  sizes) at the large batch: :class:`RolloutBatch` stepping with every
  frame decoded (``step``), and advancing the same steps from the actions
  alone with only the last frame decoded (``advance`` then ``decode``), in
  simulated game steps per second, to compare with the real game's;
* **game**: the real environment (gray ``frame_size`` frames, 4 stacked)
  with uniformly random actions and with the non-learning A3C agent
  choosing them, in steps per second, one process;
* **peak memory** of the process (``ru_maxrss``).

Every time is the median over repeats after one untimed warm-up run.
"""
import dataclasses
import logging

import chainer
import numpy as np

from recurrent_sim.benchmark.settings import BenchSettings
from recurrent_sim.benchmark.timing import Results, time_repeats
from recurrent_sim.data import SampleBuffer, SequenceBatch
from recurrent_sim.envs.rollout_batch import RolloutBatch
from recurrent_sim.models import INDEPENDENT_ARCHITECTURE, SimulatorConfig, build_simulator, fast_conv
from recurrent_sim.training import make_optimizer
from recurrent_sim.training.losses import DEFAULT_LOSS, REFERENCE_LOSS, get_loss
from recurrent_sim.training.mean_image import MEAN_IMAGE_FRAMES, ensure_mean_image
from recurrent_sim.training.update_step import UpdateStep
from recurrent_sim.utils.device import use_device
from recurrent_sim.utils.system import peak_memory_mib, system_info

logger = logging.getLogger(__name__)


def play_game(settings, results, buffer):
    """Time the game with random actions and with the non-learning agent; the
    agent's transitions fill ``buffer``."""
    from recurrent_sim.agents import make_acting_agent
    from recurrent_sim.envs import make_game

    env = make_game(settings.env_id, seed=settings.seed, frame_size=settings.frame_size)
    n_actions = env.action_space.n
    rng = np.random.RandomState(settings.seed)
    agent = make_acting_agent(n_actions, obs_shape=env.observation_space.shape, seed=settings.seed)

    def play(choose, record):
        obs = env.reset()
        for step in range(settings.env_steps):
            action = choose(obs)
            frame = env.last_frame
            obs, reward, done, _ = env.step(action)
            if record:
                # The next run starts from a reset: no sequence crosses it.
                buffer.append(frame, action, reward, done or step == settings.env_steps - 1)
            if done:
                obs = env.reset()

    try:
        seconds = time_repeats(lambda: play(lambda obs: rng.randint(n_actions), False), settings.repeats)
        results.add("env_random", "game, random actions", seconds, settings.env_steps, "steps/s")
        seconds = time_repeats(lambda: play(agent.act, True), settings.repeats)
        results.add("env_agent", "game, non-learning agent", seconds, settings.env_steps, "steps/s")
    finally:
        env.close()
    return n_actions


def _batch(buffer, batch_size, length, n_actions, rng):
    """(frames (B, L, H, W) uint8, actions (B, L - 1) int32) from the buffer,
    or random ones when its episodes are too short."""
    if buffer.can_sample(length):
        batch = buffer.sample(batch_size, length)
        return batch.frames, batch.actions
    logger.warning("episodes shorter than %d frames: timing on random frames", length)
    frames = rng.randint(0, 256, (batch_size, length) + buffer.frame_shape).astype(np.uint8)
    return frames, rng.randint(0, n_actions, (batch_size, length - 1)).astype(np.int32)


def time_training(settings, results, simulator, batch):
    """Training updates per second, fast path and (optionally) reference."""
    xp = simulator.xp
    optimizer = make_optimizer(simulator, "adam", lr=1e-4)
    frames_per_update = settings.batch_size * (settings.schedule.sequence_length - 1)
    host_frames, host_actions = batch

    def update(step):
        # One host -> device transfer per batch (none on the CPU).
        step(SequenceBatch(xp.asarray(host_frames), xp.asarray(host_actions), None, None))

    fast = UpdateStep(simulator, optimizer, get_loss(DEFAULT_LOSS).function(settings.schedule))
    seconds = time_repeats(lambda: update(fast), settings.repeats, xp)
    results.add("train_fast", "training, fast path", seconds, frames_per_update, "frames/s")
    if settings.reference:
        with chainer.using_config(fast_conv.CONFIG_KEY, False):
            reference = UpdateStep(simulator, optimizer, get_loss(REFERENCE_LOSS).function(settings.schedule))
            seconds = time_repeats(lambda: update(reference), settings.reference_repeats, xp)
        results.add("train_reference", "training, step-by-step reference", seconds, frames_per_update, "frames/s")


def time_inference(settings, results, simulator, warmup_frames, warmup_actions, n_actions):
    """Simulated game steps per second: RolloutBatch at batch 1 and at
    ``inference_batch``, and the reference's batch-1 step."""
    rng = np.random.RandomState(settings.seed)
    steps = settings.inference_steps
    for n_games, key in ((1, "sim_batch_1"), (settings.inference_batch, "sim_batch_n")):
        env = RolloutBatch(simulator)
        env.reset(warmup_frames[:n_games], warmup_actions[:n_games])
        actions = rng.randint(0, n_actions, (steps, n_games))

        def play():
            for t in range(steps):
                env.step(actions[t])

        seconds = time_repeats(play, settings.repeats)
        results.add(key, f"simulator, batch {n_games}", seconds, steps * n_games, "game steps/s")

    if settings.reference:
        xp = simulator.xp
        actions = xp.asarray(rng.randint(0, n_actions, (steps, 1)).astype(np.int32))
        start_frame = simulator.normalize(warmup_frames[:1, -1])[:, None]

        def play_reference():
            # The plain loop: one game, one full encode -> transition -> decode
            # per step, each predicted frame fed back and returned as uint8.
            state = simulator.initial_state(1)
            frame = start_frame
            with chainer.no_backprop_mode(), chainer.using_config("train", False):
                for t in range(steps):
                    prediction, state = simulator.predict(frame, actions[t], state)
                    frame = prediction.array
                    chainer.backends.cuda.to_cpu(simulator.to_uint8(frame[:, 0]))

        with chainer.using_config(fast_conv.CONFIG_KEY, False):
            seconds = time_repeats(play_reference, settings.reference_repeats)
        results.add("sim_reference", "simulator, batch 1, step-by-step reference", seconds, steps, "game steps/s")


def time_independent(settings, results, simulator, warmup_frames, warmup_actions, n_actions):
    """Prediction-independent simulator at ``inference_batch`` games: every frame decoded, or only the last."""
    np.random.seed(settings.seed)
    config = dataclasses.replace(simulator.config, architecture=INDEPENDENT_ARCHITECTURE)
    independent = build_simulator(config)
    independent.mean_image = chainer.backends.cuda.to_cpu(simulator.mean_image).copy()
    independent.mean_image_ready = np.asarray(True)
    use_device(settings.gpu, independent)
    n_games, steps = settings.inference_batch, settings.inference_steps
    actions = np.random.RandomState(settings.seed).randint(0, n_actions, (n_games, steps))
    env = RolloutBatch(independent)
    env.reset(warmup_frames[:n_games], warmup_actions[:n_games])

    def play_decoding():
        for t in range(steps):
            env.step(actions[:, t])

    def play_advancing():
        env.advance(actions)
        env.decode()

    seconds = time_repeats(play_decoding, settings.repeats)
    results.add("independent_decoding", f"independent simulator, batch {n_games}, every frame decoded",
                seconds, steps * n_games, "game steps/s")
    seconds = time_repeats(play_advancing, settings.repeats)
    results.add("independent", f"independent simulator, batch {n_games}, last frame decoded",
                seconds, steps * n_games, "game steps/s")


def run_benchmark(settings: BenchSettings) -> dict:
    """Run every measurement; returns a JSON-able dict (see :func:`format_table`).

    Raises:
        UserError: unknown game id, or ``--gpu`` without CuPy / a device.
    """
    results = Results()
    schedule = settings.schedule
    frame_shape = (settings.frame_size, settings.frame_size)
    length = schedule.sequence_length
    warmup = max(schedule.unroll_dep, 1)
    buffer = SampleBuffer(
        max(settings.env_steps, length, warmup), frame_shape, seed=settings.seed
    )
    n_actions = play_game(settings, results, buffer)

    np.random.seed(settings.seed)
    simulator = build_simulator(
        SimulatorConfig(frame_shape=frame_shape, n_actions=n_actions, hidden_size=settings.hidden_size)
    )
    ensure_mean_image(simulator, buffer.first_frames(MEAN_IMAGE_FRAMES))
    use_device(settings.gpu, simulator)

    rng = np.random.RandomState(settings.seed)
    batch = _batch(buffer, settings.batch_size, length, n_actions, rng)
    time_training(settings, results, simulator, batch)
    warmup_frames, warmup_actions = _batch(buffer, settings.inference_batch, warmup, n_actions, rng)
    time_inference(settings, results, simulator, warmup_frames, warmup_actions, n_actions)
    time_independent(settings, results, simulator, warmup_frames, warmup_actions, n_actions)

    speedups = {
        "independent_vs_game": results.value("independent") / results.value("env_random"),
        "independent_decoding_vs_game": results.value("independent_decoding") / results.value("env_random"),
    }
    if settings.reference:
        speedups["training"] = results.value("train_fast") / results.value("train_reference")
        speedups["inference_batch_1"] = results.value("sim_batch_1") / results.value("sim_reference")
        speedups["inference_batch_n"] = results.value("sim_batch_n") / results.value("sim_reference")
    return {
        "settings": settings.to_dict(),
        "system": system_info(settings.gpu),
        "measurements": results.rows,
        "speedups": speedups,
        "peak_memory_mib": peak_memory_mib(),
    }
