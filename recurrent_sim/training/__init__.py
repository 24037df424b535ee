"""Training of the simulator: losses (by name), the update step, optimisers, the training core both
command lines share, the online trainer, checkpoints."""
from recurrent_sim.training.checkpoint import (  # NOQA
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from recurrent_sim.training.losses import DEFAULT_LOSS, get_loss, loss_names, register_loss  # NOQA
from recurrent_sim.training.core import TrainingCore  # NOQA
from recurrent_sim.training.mean_image import MEAN_IMAGE_FRAMES, ensure_mean_image  # NOQA
from recurrent_sim.training.optimizers import make_optimizer  # NOQA
from recurrent_sim.training.reference_loss import reference_sequence_loss  # NOQA
from recurrent_sim.training.sequence_loss import (  # NOQA
    SequenceLoss,
    SequenceSchedule,
    sequence_loss,
)
from recurrent_sim.training.trainer import SimulatorTrainer, TrainingSchedule  # NOQA
from recurrent_sim.training.update_step import StepOutcome, UpdateStep  # NOQA
