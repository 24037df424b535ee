"""Data-parallel training over MPI ranks with ChainerMN (``mpiexec -n N recurrent-sim train ...``).

Every rank (process) holds a copy of the simulator and draws its own
batches; after each backward pass ChainerMN's multi-node optimizer averages
the gradients over the ranks (one all-reduce per parameter), so every copy
applies the same update and stays identical. With N ranks of batch B an
update sees N x B sequences, and (the loss being a mean over the batch) its
gradient is the one a single process would get from those N x B sequences.

:func:`connect` gives the world a run works in: :class:`SingleProcess` when
the program was not started by ``mpiexec`` (found from the environment
variables an MPI launcher sets, so mpi4py is never imported then), else
:class:`MpiRanks` around a ChainerMN communicator. The trainer speaks to
both alike: broadcasts, sums and the agreement on when to stop are no-ops
in a single process.
"""
import logging
import math
import os

import numpy as np

from recurrent_sim.training.update_step import StepOutcome, UpdateStep
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.settings import Setting

logger = logging.getLogger(__name__)

# Set by Open MPI's, MPICH's (Hydra), PMIx and MVAPICH's launchers in every process they start.
MPI_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE")
COMMUNICATOR = Setting(
    "communicator", None,
    "ChainerMN communicator under mpiexec: naive (CPU or GPU, plain MPI), flat (GPU, MPI), pure_nccl "
    "(GPU, NCCL 2: the fast one for GPUs)", str, choices=("naive", "flat", "pure_nccl"),
)
MPI_INSTALL_HINT = ("pip install -e '.[mpi]' with an MPI installed (Debian: apt-get install openmpi-bin "
                    "libopenmpi-dev)")


def mpi_world_size(environ=None) -> int:
    """Processes started by the MPI launcher this process belongs to; 0 when not started by one."""
    environ = os.environ if environ is None else environ
    for name in MPI_SIZE_VARIABLES:
        if environ.get(name, "").strip().isdigit():
            return int(environ[name])
    return 0


class SingleProcess:
    """The world of a run in one process: rank 0 of 1; every collective is the identity."""

    rank = 0
    size = 1
    intra_rank = 0
    is_root = True

    def broadcast_parameters(self, model):
        """Give every rank rank 0's parameters (nothing to do here)."""

    def data_parallel_optimizer(self, optimizer, model):
        """The optimizer that averages gradients over the ranks before updating ``model``."""
        return optimizer

    def sum(self, values) -> np.ndarray:
        """Element-wise sum over the ranks of ``values`` (1-D, float64)."""
        return np.asarray(values, dtype=np.float64)

    def max(self, values) -> np.ndarray:
        """Element-wise maximum over the ranks of ``values`` (1-D, float64)."""
        return np.asarray(values, dtype=np.float64)

    def broadcast(self, obj):
        """Rank 0's ``obj`` (picklable), on every rank."""
        return obj

    def gather(self, obj) -> list:
        """Every rank's ``obj`` in rank order, on rank 0 (None on the others)."""
        return [obj]

    def agree(self, error):
        """After a set-up that may have failed on some ranks (``error``: this rank's
        :class:`UserError` or None): raise on every rank when any failed."""
        if error is not None:
            raise error


class MpiRanks(SingleProcess):
    """The ranks of ``mpiexec -n N``, through a ChainerMN ``communicator``."""

    def __init__(self, communicator):
        from mpi4py import MPI

        self.communicator = communicator
        self.mpi = MPI
        self.rank, self.size = communicator.rank, communicator.size
        self.intra_rank = communicator.intra_rank
        self.is_root = self.rank == 0

    def broadcast_parameters(self, model):
        self.communicator.bcast_data(model)

    def data_parallel_optimizer(self, optimizer, model):
        import chainermn

        multi = chainermn.create_multi_node_optimizer(optimizer, self.communicator)
        # ChainerMN's first update() only broadcasts the parameters and applies
        # nothing; they are broadcast explicitly (broadcast_parameters), so
        # record the parameter set now and every update() averages and applies.
        multi.is_changed(model)
        optimizer.add_hook(FiniteGradientCheck(), name=FiniteGradientCheck.name)
        return multi

    def _reduce(self, values, op) -> np.ndarray:
        values = np.ascontiguousarray(values, dtype=np.float64)
        result = np.empty_like(values)
        self.communicator.mpi_comm.Allreduce(values, result, op=op)
        return result

    def sum(self, values) -> np.ndarray:
        return self._reduce(values, self.mpi.SUM)

    def max(self, values) -> np.ndarray:
        return self._reduce(values, self.mpi.MAX)

    def broadcast(self, obj):
        return self.communicator.mpi_comm.bcast(obj, root=0)

    def gather(self, obj) -> list:
        return self.communicator.mpi_comm.gather(obj, root=0)

    def agree(self, error):
        errors = self.communicator.mpi_comm.allgather(None if error is None else str(error))
        if error is not None:
            if self.is_root:
                raise error
            raise SystemExit(2)  # rank 0 reports it; one line, not one per rank
        failed = [(rank, message) for rank, message in enumerate(errors) if message is not None]
        if failed:
            if self.is_root:
                raise UserError(f"rank {failed[0][0]}: {failed[0][1]}")
            raise SystemExit(2)


def connect(communicator_name=None, gpu=-1) -> SingleProcess:
    """The world of this process: :class:`SingleProcess` unless started by ``mpiexec``.

    Args:
        communicator_name: ChainerMN communicator (see ``COMMUNICATOR``);
            None: ``naive`` on the CPU, ``pure_nccl`` on GPUs.
        gpu: the CUDA device of the run (-1: CPU).
    Raises:
        UserError: a communicator is asked for outside mpiexec, mpi4py or the
            MPI library cannot be loaded, or a GPU-only communicator on the CPU.
    """
    size = mpi_world_size()
    if not size:
        if communicator_name is not None:
            raise UserError(f"--communicator {communicator_name} needs the run to be started by mpiexec "
                            "(mpiexec -n N recurrent-sim train ...)")
        return SingleProcess()
    name = communicator_name or ("pure_nccl" if gpu >= 0 else "naive")
    if gpu < 0 and name != "naive":
        raise UserError(f"--communicator {name} needs GPUs (--gpu); on the CPU use naive")
    try:
        from mpi4py import MPI  # noqa: F401  (loads the MPI library)
    except (ImportError, RuntimeError, OSError) as e:
        raise UserError(f"started by mpiexec ({size} processes) but mpi4py cannot be loaded "
                        f"({str(e).splitlines()[0]}): {MPI_INSTALL_HINT}") from None
    import chainermn

    try:
        communicator = chainermn.create_communicator(name)
    except (ImportError, RuntimeError) as e:
        raise UserError(f"--communicator {name} cannot start: {str(e).splitlines()[0]}") from None
    ranks = MpiRanks(communicator)
    if ranks.is_root:
        logger.info("data-parallel training over %d ranks (communicator %s)", ranks.size, name)
    return ranks


class NonFiniteGradient(Exception):
    """Raised by :class:`FiniteGradientCheck` to refuse an update."""


class FiniteGradientCheck:
    """Optimizer hook run before each update, after the gradients were averaged
    over the ranks: refuses the update (on every rank alike) when one is not finite."""

    name = "FiniteGradientCheck"
    timing = "pre"
    call_for_each_param = False

    def __call__(self, optimizer):
        from recurrent_sim.training.update_step import all_finite

        if not all_finite(param.grad for param in optimizer.target.params()):
            raise NonFiniteGradient("gradient is not finite")


class DataParallelStep(UpdateStep):
    """:class:`UpdateStep` over the ranks: each rank's gradient on its own batch, averaged.

    Every rank takes the same decision: a batch whose loss is not finite on
    some rank gives that rank NaN gradients, so the average is not finite
    and :class:`FiniteGradientCheck` refuses the update everywhere. The
    metrics returned are the means over the ranks (the metrics of the
    union of the batches when they are of equal size).

    Args:
        model, optimizer, loss_function: as :class:`UpdateStep`.
        ranks: the :class:`MpiRanks` (or :class:`SingleProcess`).
    """

    def __init__(self, model, optimizer, loss_function, ranks):
        super().__init__(model, ranks.data_parallel_optimizer(optimizer, model), loss_function)
        self.ranks = ranks

    def __call__(self, batch) -> StepOutcome:
        loss, metrics = self.loss_function(self.model, batch)
        value = float(loss.array)
        self.model.cleargrads()
        if math.isfinite(value):
            self.backward(loss)
        else:
            for param in self.model.params():
                param.grad = param.xp.full_like(param.array, np.nan)
        names = sorted(metrics)
        means = self.ranks.sum([metrics[name] for name in names] + [value]) / self.ranks.size
        metrics = dict(zip(names, (float(mean) for mean in means[:-1])))
        try:
            self.optimizer.update()
        except NonFiniteGradient as e:
            problem = f"loss is {value}" if not math.isfinite(value) else (
                f"loss is {means[-1]} on another rank" if not math.isfinite(means[-1]) else str(e))
            return StepOutcome(False, metrics, problem)
        if not self.parameters_finite():
            return StepOutcome(True, metrics, "parameters are not finite", parameters_damaged=True)
        return StepOutcome(True, metrics)
