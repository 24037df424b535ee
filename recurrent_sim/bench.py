"""Throughput of the simulator, its plain step-by-step reference, and the game.

:func:`run_benchmark` measures, in one process and one run:

* **training**: simulator updates (loss, backward, Adam step) on batches of
  sequences sampled from frames the game produced, in frames per second,
  one frame being one step of one sequence (``batch * (sequence_length -
  1)`` per update); for the fast path (:func:`sequence_loss` on the
  channels-last CPU convolutions) and for the reference
  (:func:`reference_sequence_loss` on Chainer's own convolutions), so the
  speed-up is a ratio measured side by side;
* **inference**: :class:`BatchedSimEnv` steps at batch 1 and at a large
  batch, and the reference's batch-1 step (encode -> transition -> decode
  on Chainer's convolutions), in simulated game steps per second;
* **game**: the real environment (gray ``frame_size`` frames, 4 stacked)
  with uniformly random actions and with the non-learning A3C agent
  choosing them, in steps per second, one process;
* **peak memory** of the process (``ru_maxrss``).

Every time is the median over repeats after one untimed warm-up run.
"""
import dataclasses
import importlib.metadata
import logging
import os
import platform
import resource
import statistics
import time
from typing import Optional

import chainer
import numpy as np

from recurrent_sim.data import SampleBuffer
from recurrent_sim.envs.batched_sim_env import BatchedSimEnv
from recurrent_sim.models import Simulator, SimulatorConfig, fast_conv
from recurrent_sim.training import SequenceSchedule, make_optimizer, sequence_loss
from recurrent_sim.training.reference_loss import reference_sequence_loss

logger = logging.getLogger(__name__)

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclasses.dataclass
class BenchSettings:
    """What to measure, and how long.

    Attributes:
        env_id: gym id of the game (frames and actions for the simulator).
        frame_size: side of the square gray frames, pixels.
        hidden_size: LSTM units of the simulator.
        batch_size: sequences per training update.
        schedule: warm-up / observed / predicted split of a sequence.
        inference_batch: games stepped together in the large-batch inference.
        inference_steps: simulator steps timed per inference repeat.
        env_steps: game steps timed per game repeat.
        repeats: timed repeats of each fast-path and game measurement.
        reference_repeats: timed repeats of each reference measurement.
        reference: also time the reference (step-by-step, Chainer convolutions).
        seed: seed of the game, the weights and the sampling.
        gpu: CUDA device id, -1 for the CPU.
    """

    env_id: str = "BreakoutDeterministic-v4"
    frame_size: int = 84
    hidden_size: int = 512
    batch_size: int = 16
    schedule: SequenceSchedule = SequenceSchedule(15, 10, 15)
    inference_batch: int = 64
    inference_steps: int = 40
    env_steps: int = 1000
    repeats: int = 3
    reference_repeats: int = 2
    reference: bool = True
    seed: int = 0
    gpu: int = -1

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["schedule"] = dataclasses.asdict(self.schedule)
        return d


def system_info(gpu=-1) -> dict:
    """Versions, thread settings and device, for the benchmark's record."""
    import gym

    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "chainer": chainer.__version__,
        "gym": gym.__version__,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "threads": {name: os.environ.get(name) for name in THREAD_VARIABLES},
        "device": "cpu" if gpu < 0 else f"cuda:{gpu}",
    }
    for key, distributions in (
        ("chainerrl", ("chainerrl",)),
        ("ale_py", ("ale-py",)),
        ("cupy", ("cupy-cuda12x", "cupy-cuda11x", "cupy")),
    ):
        info[key] = None
        for distribution in distributions:
            try:
                info[key] = importlib.metadata.version(distribution)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {"api": pool.get("internal_api"), "threads": pool.get("num_threads")} for pool in threadpool_info()
        ]
    except ImportError:
        info["blas"] = None
    return info


def peak_memory_mib() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _synchronize(xp):
    if xp is not np:
        xp.cuda.Device().synchronize()


def _median_rate(seconds, amount):
    """(median rate, per-repeat rates) for ``amount`` units done in each of ``seconds``."""
    rates = [amount / max(s, 1e-12) for s in seconds]
    return statistics.median(rates), rates


class _Results:
    """Collects measurements: name -> value, unit, per-repeat values."""

    def __init__(self):
        self.rows = []

    def add(self, key, label, seconds, amount, unit):
        value, samples = _median_rate(seconds, amount)
        self.rows.append(
            {
                "key": key,
                "label": label,
                "value": value,
                "unit": unit,
                "samples": samples,
                "seconds": list(seconds),
                "peak_memory_mib": peak_memory_mib(),
            }
        )
        logger.info("%s: %.1f %s (median of %d)", label, value, unit, len(seconds))
        return value

    def value(self, key) -> Optional[float]:
        for row in self.rows:
            if row["key"] == key:
                return row["value"]
        return None


def _time_repeats(run, repeats, xp=np):
    """Seconds of each of ``repeats`` calls of ``run`` after one untimed call."""
    run()
    _synchronize(xp)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        _synchronize(xp)
        seconds.append(time.perf_counter() - start)
    return seconds


def play_game(settings, results, buffer):
    """Time the game with random actions and with the non-learning agent; the
    agent's transitions fill ``buffer``."""
    from recurrent_sim.agents import make_acting_agent
    from recurrent_sim.commands.common import make_game

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
        seconds = _time_repeats(lambda: play(lambda obs: rng.randint(n_actions), False), settings.repeats)
        results.add("env_random", "game, random actions", seconds, settings.env_steps, "steps/s")
        seconds = _time_repeats(lambda: play(agent.act, True), settings.repeats)
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

    def update(loss_function):
        # One host -> device transfer per batch (none on the CPU).
        frames, actions = xp.asarray(host_frames), xp.asarray(host_actions)
        result = loss_function(simulator, frames, actions, settings.schedule)
        simulator.cleargrads()
        result.loss.backward()
        optimizer.update()

    seconds = _time_repeats(lambda: update(sequence_loss), settings.repeats, xp)
    results.add("train_fast", "training, fast path", seconds, frames_per_update, "frames/s")
    if settings.reference:
        with chainer.using_config(fast_conv.CONFIG_KEY, False):
            seconds = _time_repeats(lambda: update(reference_sequence_loss), settings.reference_repeats, xp)
        results.add("train_reference", "training, step-by-step reference", seconds, frames_per_update, "frames/s")


def time_inference(settings, results, simulator, warmup_frames, warmup_actions, n_actions):
    """Simulated game steps per second: BatchedSimEnv at batch 1 and at
    ``inference_batch``, and the reference's batch-1 step."""
    rng = np.random.RandomState(settings.seed)
    steps = settings.inference_steps
    for n_games, key in ((1, "sim_batch_1"), (settings.inference_batch, "sim_batch_n")):
        env = BatchedSimEnv(simulator)
        env.reset(warmup_frames[:n_games], warmup_actions[:n_games])
        actions = rng.randint(0, n_actions, (steps, n_games))

        def play():
            for t in range(steps):
                env.step(actions[t])

        seconds = _time_repeats(play, settings.repeats)
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
            seconds = _time_repeats(play_reference, settings.reference_repeats)
        results.add("sim_reference", "simulator, batch 1, step-by-step reference", seconds, steps, "game steps/s")


def run_benchmark(settings: BenchSettings) -> dict:
    """Run every measurement; returns a JSON-able dict (see :func:`format_table`).

    Raises:
        UserError: unknown game id, or ``--gpu`` without CuPy / a device.
    """
    from recurrent_sim.commands.common import use_device

    results = _Results()
    schedule = settings.schedule
    frame_shape = (settings.frame_size, settings.frame_size)
    length = schedule.sequence_length
    warmup = max(schedule.unroll_dep, 1)
    buffer = SampleBuffer(
        max(settings.env_steps, length, warmup), frame_shape, seed=settings.seed
    )
    n_actions = play_game(settings, results, buffer)

    np.random.seed(settings.seed)
    simulator = Simulator(
        SimulatorConfig(frame_shape=frame_shape, n_actions=n_actions, hidden_size=settings.hidden_size)
    )
    simulator.set_mean_image(buffer.first_frames(min(len(buffer), 2048)))
    use_device(settings.gpu, simulator)

    rng = np.random.RandomState(settings.seed)
    batch = _batch(buffer, settings.batch_size, length, n_actions, rng)
    time_training(settings, results, simulator, batch)
    warmup_frames, warmup_actions = _batch(buffer, settings.inference_batch, warmup, n_actions, rng)
    time_inference(settings, results, simulator, warmup_frames, warmup_actions, n_actions)

    speedups = {}
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


def format_table(report: dict) -> str:
    """The report as a plain-text table with a header of settings and threads."""
    settings, system = report["settings"], report["system"]
    schedule = settings["schedule"]
    threads = ", ".join(f"{k}={v if v is not None else 'unset'}" for k, v in system["threads"].items())
    lines = [
        f"game {settings['env_id']}, frames {settings['frame_size']}x{settings['frame_size']} gray, "
        f"LSTM {settings['hidden_size']}, batch {settings['batch_size']}, sequence "
        f"{schedule['unroll_dep']} warm-up + {schedule['obs_dep']} observed + {schedule['pred_dep']} predicted",
        f"device {system['device']}, {system['cpus_usable']} usable CPUs, {threads}",
        f"python {system['python']}, numpy {system['numpy']}, chainer {system['chainer']}, "
        f"chainerrl {system['chainerrl']}, gym {system['gym']}, ale-py {system['ale_py']}, "
        f"cupy {system['cupy'] or '-'}",
        "",
    ]
    rows = [
        (row["label"], f"{row['value']:,.1f}", row["unit"], f"{len(row['samples'])}")
        for row in report["measurements"]
    ]
    header = ("measurement", "median", "unit", "repeats")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
    fmt = f"{{:<{widths[0]}}}  {{:>{widths[1]}}}  {{:<{widths[2]}}}  {{:>{widths[3]}}}"
    lines += [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in rows]
    lines.append("")
    for name, ratio in report["speedups"].items():
        what = {
            "training": "training, fast path / reference",
            "inference_batch_1": "simulator batch 1 / reference batch 1",
            "inference_batch_n": f"simulator batch {settings['inference_batch']} / reference batch 1",
        }[name]
        lines.append(f"speed-up {what}: {ratio:.1f}x")
    lines.append(f"peak memory: {report['peak_memory_mib']:,.0f} MiB")
    return "\n".join(lines)
