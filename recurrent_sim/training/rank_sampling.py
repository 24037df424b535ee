"""The training batches of each rank of a data-parallel run, resumable with any number of ranks.

Two ways for N ranks of batch B to draw (``--rank-batches``):

- ``independent`` (default): each rank walks its own shuffled passes over
  the training windows, rank 0 with the stream of a single-process run
  (seed ``[seed, 1]``), rank r > 0 with ``[seed, 1, r]``.
- ``split``: the ranks share one stream; each update draws the N x B
  windows a single process of batch N x B would draw, and rank r takes the
  r-th slice of B. Then N ranks make exactly the updates of one process of
  batch N x B (up to the order of float sums): what the tests check.

Checkpoints store rank 0's sampler state as ``sampler`` (what a single
process stores), and with ``independent`` the other ranks' states in
``sampler["other_ranks"]``. A resume with the same N continues every
stream exactly. With another N, each rank that had a stream continues it
and the others start a new one seeded with ``[seed, 1, rank, updates]``
(so no earlier batch order is replayed); streams of ranks that no longer
exist end. With ``split``, the shared stream continues whatever N is.
"""
import logging

from recurrent_sim.data.dataset_sampler import SequenceSampler, gather
from recurrent_sim.utils.settings import Setting

logger = logging.getLogger(__name__)

RANK_BATCHES = Setting(
    "rank_batches", "independent",
    "how the ranks under mpiexec draw their batches: independent (each rank its own shuffled stream) or split "
    "(one shared stream of N x --batch-size windows per update, rank r takes the r-th slice: the updates of one "
    "process with batch N x --batch-size)", str, choices=("independent", "split"),
)


class RankSampler:
    """Training windows of one rank (see the module's docstring).

    Args:
        episodes, indices, sequence_length: as :class:`SequenceSampler`.
        seed: the run's seed.
        ranks: the world (:mod:`recurrent_sim.training.data_parallel`).
        mode: ``"independent"`` or ``"split"``.
    """

    def __init__(self, episodes, indices, sequence_length, seed, ranks, mode="independent"):
        if mode not in RANK_BATCHES.choices:
            raise ValueError(f"rank batches must be one of {RANK_BATCHES.choices}, got {mode!r}")
        self.episodes, self.indices, self.sequence_length = episodes, indices, sequence_length
        self.seed, self.ranks, self.mode = int(seed), ranks, mode
        self.independent = mode == "independent" and ranks.size > 1
        stream = [self.seed, 1, ranks.rank] if self.independent and ranks.rank else [self.seed, 1]
        self.sampler = SequenceSampler(episodes, indices, sequence_length, stream)

    def __len__(self) -> int:
        """Windows per pass."""
        return len(self.sampler)

    def sample(self, batch_size):
        """This rank's next ``batch_size`` sequences (a :class:`SequenceBatch`)."""
        if self.independent or self.ranks.size == 1:
            return self.sampler.sample(batch_size)
        windows = self.sampler.next_windows(batch_size * self.ranks.size)
        mine = windows[self.ranks.rank * batch_size : (self.ranks.rank + 1) * batch_size]
        return gather(self.episodes, mine, self.sequence_length)

    def state_dict(self):
        """The state of every rank's stream, on rank 0 (None on the others); collective."""
        states = self.ranks.gather(self.sampler.state_dict())
        if states is None:
            return None
        state = dict(states[0])
        if self.independent:
            state["other_ranks"] = list(states[1:])
        return state

    def load_state_dict(self, state, updates):
        """Continue from :meth:`state_dict`'s output, saved after ``updates`` updates (by any number of ranks)."""
        others = state.get("other_ranks", [])
        rank = self.ranks.rank if self.independent else 0
        saved_ranks = 1 + len(others)
        if self.ranks.is_root and self.independent and saved_ranks != self.ranks.size:
            logger.warning(
                "the run was saved by %d rank(s), it goes on with %d: ranks below %d continue their batch "
                "streams, the others start new ones", saved_ranks, self.ranks.size, saved_ranks)
        if rank == 0:
            self.sampler.load_state_dict({k: v for k, v in state.items() if k != "other_ranks"})
        elif rank <= len(others):
            self.sampler.load_state_dict(others[rank - 1])
        else:
            self.sampler = SequenceSampler(self.episodes, self.indices, self.sequence_length,
                                           [self.seed, 1, rank, int(updates)])


def rank_share(batches, ranks) -> list:
    """This rank's share of a list of (validation) batches: every N-th, from its rank."""
    return list(batches)[ranks.rank :: ranks.size]


def all_ranks_mean(totals: dict, count: int, names, ranks) -> dict:
    """Per-name means over all ranks of sums ``totals`` (name -> float) over ``count`` sequences."""
    sums = ranks.sum([totals.get(name, 0.0) for name in names] + [count])
    if sums[-1] == 0:
        return {name: float("nan") for name in names}
    return {name: float(value / sums[-1]) for name, value in zip(names, sums[:-1])}

