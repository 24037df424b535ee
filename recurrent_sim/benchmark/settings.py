"""What the benchmark measures, and how long."""
import dataclasses

from recurrent_sim.training import SequenceSchedule


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
