"""Training of the simulator: losses, optimisers, the online trainer, checkpoints."""
from recurrent_sim.training.checkpoint import (  # NOQA
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from recurrent_sim.training.optimizers import make_optimizer  # NOQA
from recurrent_sim.training.reference_loss import reference_sequence_loss  # NOQA
from recurrent_sim.training.sequence_loss import (  # NOQA
    SequenceLoss,
    SequenceSchedule,
    sequence_loss,
)
from recurrent_sim.training.trainer import SimulatorTrainer, TrainingSchedule  # NOQA
