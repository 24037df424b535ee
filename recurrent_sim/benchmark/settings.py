"""What the benchmark measures, and how long."""
import dataclasses

from recurrent_sim.envs.preprocessing import FRAME_SIZE
from recurrent_sim.models import HIDDEN_SIZE
from recurrent_sim.training import SequenceSchedule
from recurrent_sim.training.run_settings import BATCH_SIZE
from recurrent_sim.utils.device import GPU
from recurrent_sim.utils.settings import SEED, Setting, non_negative_int, positive_int

BENCH_ENV = "BreakoutDeterministic-v4"
BENCH_HIDDEN_SIZE = 512
BENCH_PRED_DEP = 15
INFERENCE_BATCH = Setting("inference_batch", 64, "games stepped together by the batched simulator", positive_int)
INFERENCE_STEPS = Setting("inference_steps", 40, "simulator steps per timed inference run", positive_int)
ENV_STEPS = Setting("env_steps", 1000, "game steps per timed game run", positive_int)
REPEATS = Setting("repeats", 3, "timed runs per measurement, after one untimed run; medians are reported",
                  positive_int)
REFERENCE_REPEATS = Setting("reference_repeats", 2, "timed runs of the step-by-step reference; 0 skips it",
                            non_negative_int)


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

    env_id: str = BENCH_ENV
    frame_size: int = FRAME_SIZE.field()
    hidden_size: int = HIDDEN_SIZE.field(BENCH_HIDDEN_SIZE)
    batch_size: int = BATCH_SIZE.field()
    schedule: SequenceSchedule = SequenceSchedule(pred_dep=BENCH_PRED_DEP)
    inference_batch: int = INFERENCE_BATCH.field()
    inference_steps: int = INFERENCE_STEPS.field()
    env_steps: int = ENV_STEPS.field()
    repeats: int = REPEATS.field()
    reference_repeats: int = REFERENCE_REPEATS.field()
    reference: bool = True
    seed: int = SEED.field()
    gpu: int = GPU.field()

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["schedule"] = dataclasses.asdict(self.schedule)
        return d
