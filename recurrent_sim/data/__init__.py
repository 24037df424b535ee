"""Storage of game transitions for training the simulator."""
from recurrent_sim.data.buffer import SampleBuffer, SequenceBatch

__all__ = ["SampleBuffer", "SequenceBatch"]
