"""Parameter gradients of the fast CPU layers gathered over a backward pass and computed together.

A simulator's layers are applied once per step of a training sequence,
so Chainer computes each parameter's gradient many times in a backward
pass (once per step, each a small product or a few batch chunks handed to
the worker threads) and sums them, two arrays at a time, on the one thread
that walks the graph. Nothing in the backward pass reads the gradient of a
parameter; only the optimizer does, afterwards. Inside
:func:`deferred_parameter_gradients` the fast layers
(:mod:`recurrent_sim.models.fast_conv`, :mod:`recurrent_sim.models.split_linear`)
give Chainer only the gradient of their input and record what their
parameters' gradients need. On leaving the block, or earlier when the
arrays the records keep alive pass :data:`HELD_BYTES`, the recorded
gradients are computed in one call of
:func:`recurrent_sim.utils.cpu_pool.map_chunks` (the chunks of all layers
and steps shared out over the worker threads). The records of one fully
connected layer (small arrays) wait for the end and become one product
over all their rows. On leaving, each parameter's sum is added into its
``grad``: the same values as without the block, up to the order of float
sums.

Only gradients of leaf variables (a link's ``chainer.Parameter``) in a
backward pass without a graph of the gradient
(``enable_double_backprop=False``) are deferred; anything else is computed
as usual. :class:`recurrent_sim.training.update_step.UpdateStep` wraps its
``loss.backward()`` in the block on the fast CPU path.

A recorded gradient (:class:`DeferredGradient`) splits into chunks that
any thread may compute in any order.
"""
import contextlib
import threading

from recurrent_sim.utils.cpu_pool import map_chunks

_current = threading.local()  # .block: this thread's active block, or None

#: Bytes of arrays that the records of a block may hold before they are computed (each record keeps
#: its layer's input and output gradient alive, which Chainer would otherwise free during the pass).
HELD_BYTES = 64 * 2**20


class DeferredGradient:
    """Interface of a recorded parameter gradient.

    Attributes:
        chunk_count: number of chunks (:meth:`part` is called once per index).
        nbytes: bytes of the arrays it holds.
        merge_key: records with the same key (not None) are first merged
            into one with :meth:`merge`.
    """

    chunk_count = 1
    nbytes = 0
    merge_key = None

    @classmethod
    def merge(cls, records):
        """One record computing the sum of ``records`` (all with this class's merge key)."""
        raise NotImplementedError

    def prepare(self):
        """Called once, in the calling thread, before the chunks run (e.g. to allocate outputs)."""

    def part(self, index):
        """What chunk ``index`` contributes (run on any worker thread)."""
        raise NotImplementedError

    def results(self, parts):
        """``[(parameter, gradient array), ...]`` from the parts of every chunk, in order. Each array
        must be a new one: sums are taken in place."""
        raise NotImplementedError


def _merged(records):
    """``records`` with those of equal merge keys merged, in order of first appearance."""
    groups, order = {}, []
    for record in records:
        key = record.merge_key
        if key is None:
            order.append([record])
        elif key in groups:
            groups[key].append(record)
        else:
            groups[key] = [record]
            order.append(groups[key])
    return [group[0] if len(group) == 1 else type(group[0]).merge(group) for group in order]


def compute(records, sums=None):
    """Add the gradients of ``records`` into ``sums``, ``{id(parameter): [parameter, gradient sum]}``
    (a new dict when None), their chunks spread over the worker threads in one call; returns ``sums``."""
    sums = {} if sums is None else sums
    records = _merged(records)
    for record in records:
        record.prepare()
    chunks = [(record, index) for record in records for index in range(record.chunk_count)]
    parts = map_chunks(lambda k: chunks[k][0].part(chunks[k][1]), len(chunks))
    start = 0
    for record in records:
        for parameter, gradient in record.results(parts[start : start + record.chunk_count]):
            entry = sums.get(id(parameter))
            if entry is None:
                sums[id(parameter)] = [parameter, gradient]
            else:
                entry[1] += gradient
        start += record.chunk_count
    return sums


class _Block:
    """The records of one :func:`deferred_parameter_gradients` block and the sums computed so far."""

    def __init__(self):
        self.records, self.held, self.sums = [], 0, {}

    def add(self, record):
        self.records.append(record)
        self.held += record.nbytes
        if self.held > HELD_BYTES:
            self.flush(final=False)

    def flush(self, final=True):
        """Compute the records, but for those that merge with later ones (unless ``final``, or they
        hold :data:`HELD_BYTES` by themselves)."""
        kept = [] if final else [record for record in self.records if record.merge_key is not None]
        if sum(record.nbytes for record in kept) > HELD_BYTES:
            kept = []
        kept_ids = {id(record) for record in kept}
        now = [record for record in self.records if id(record) not in kept_ids]
        if now:
            compute(now, self.sums)
        self.records, self.held = kept, sum(record.nbytes for record in kept)


@contextlib.contextmanager
def deferred_parameter_gradients(active=True):
    """Context for ``loss.backward()`` in which the fast layers defer their parameters' gradients; on
    leaving it (without an exception) every gradient is in its parameter's ``grad``. With ``active``
    False, or inside another such block, nothing changes."""
    if not active or getattr(_current, "block", None) is not None:
        yield
        return
    block = _current.block = _Block()
    try:
        yield
    finally:
        _current.block = None
    block.flush()
    for parameter, gradient in block.sums.values():
        # A new array where Chainer left a gradient too: its array may be shared with another's.
        parameter.grad = gradient if parameter.grad is None else parameter.grad + gradient


def leaf_parameters(node, indexes):
    """``{input index: parameter}`` for ``indexes`` of a function node's inputs when a deferral block
    is active in this thread and every one of them is a leaf variable; else None."""
    if getattr(_current, "block", None) is None:
        return None
    parameters = {}
    for index in indexes:
        input_node = node.inputs[index]
        variable = input_node.get_variable_or_none()
        if variable is None or input_node.creator_node is not None:
            return None
        parameters[index] = variable
    return parameters


def defer(record):
    """Record a :class:`DeferredGradient` in the active block (see :func:`leaf_parameters`)."""
    _current.block.add(record)
