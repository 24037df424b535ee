"""A fully connected layer whose products are split by columns over the worker threads (CPU, training),
and whose parameters' gradients can be deferred to the end of a backward pass.

During a training update OpenBLAS is held to one thread
(:func:`recurrent_sim.utils.cpu_pool.fast_path_threads`), so the LSTM's
per-step products, a few sequences times thousands of units (for example
(16, 1024) x (1024, 2048), forward and both gradients, every step), ran
on one core while the other waited. :func:`split_linear` computes
``y = x W^T + b`` and its gradients with each product cut into column
blocks, one per worker thread (:func:`recurrent_sim.utils.cpu_pool.map_chunks`):

* forward: ``y[:, j] = x W[j]^T + b[j]`` for blocks ``j`` of output units;
* input gradient: ``gx[:, i] = gy W[:, i]`` for blocks ``i`` of input units;
* weight gradient: ``gW[j] = gy[:, j]^T x`` and ``gb[j]``, blocks of output units.

Same values as ``F.linear`` up to float rounding. With one worker or for
products below :data:`SPLIT_MIN_SIZE` multiply-adds each product is one
block. Inside :func:`recurrent_sim.models.deferred_gradients.deferred_parameter_gradients`
the weight and bias gradients of every step of a backward pass are left
for its end, and computed there as one product over all steps' rows
(:class:`LinearParameterGradients`). On a GPU or off the fast CPU path
(``chainer.using_config("fast_cpu_conv", False)``, the plain reference) it
is the link itself. When a graph of the gradient is asked for (double
backprop), the gradients are built from Chainer's own functions, so they
are differentiable too.
"""
import chainer
import chainer.functions as F
import numpy as np
from chainer import function_node

from recurrent_sim.models import deferred_gradients
from recurrent_sim.models.fast_conv import fast_path
from recurrent_sim.utils.cpu_pool import map_chunks, worker_count

#: Multiply-adds (batch x in x out) from which a product is split over the threads (here and in
#: the steps without backprop of :class:`recurrent_sim.models.action_lstm.ActionLSTM`).
SPLIT_MIN_SIZE = 2**24


def column_blocks(size, parts):
    """``parts`` (start, stop) ranges of nearly equal length covering ``range(size)``: how a product's
    columns are cut over the worker threads."""
    return [(size * i // parts, size * (i + 1) // parts) for i in range(parts)]


class SplitLinear(function_node.FunctionNode):
    """``y = x W^T (+ b)`` on numpy arrays, each product split into ``parts`` column blocks."""

    def __init__(self, parts):
        self.parts = parts

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        x, weight = inputs[:2]
        bias = inputs[2] if len(inputs) == 3 else None
        y = np.empty((len(x), len(weight)), dtype=x.dtype)
        out_blocks = column_blocks(len(weight), self.parts)

        def run(i):
            lo, hi = out_blocks[i]
            y[:, lo:hi] = x.dot(weight[lo:hi].T)
            if bias is not None:
                y[:, lo:hi] += bias[lo:hi]

        map_chunks(run, self.parts)
        return (y,)

    def backward(self, indexes, grad_outputs):
        x, weight = self.get_retained_inputs()
        (gy,) = grad_outputs
        if chainer.config.enable_backprop:  # a graph of the gradient is wanted: Chainer's own functions
            grads = {0: lambda: F.matmul(gy, weight), 1: lambda: F.matmul(gy, x, transa=True),
                     2: lambda: F.sum(gy, axis=0)}
            return tuple(grads[i]() for i in indexes)
        x, weight, gy = x.array, weight.array, gy.array
        out = {}
        if 0 in indexes:
            gx = np.empty_like(x)
            in_blocks = column_blocks(x.shape[1], self.parts)

            def input_gradient(i):
                lo, hi = in_blocks[i]
                gx[:, lo:hi] = gy.dot(weight[:, lo:hi])

            map_chunks(input_gradient, self.parts)
            out[0] = gx
        wanted = [i for i in indexes if i > 0]
        parameters = deferred_gradients.leaf_parameters(self, wanted)
        if parameters:
            deferred_gradients.defer(LinearParameterGradients(x, gy, parameters))
        elif wanted:
            gradients = LinearParameterGradients(x, gy, dict.fromkeys(wanted), self.parts)
            gradients.prepare()
            map_chunks(gradients.part, gradients.chunk_count)
            out.update(zip(wanted, gradients.arrays()))
        return tuple(chainer.Variable(out[i], requires_grad=False) if i in out else None for i in indexes)


class LinearParameterGradients(deferred_gradients.DeferredGradient):
    """Weight (input 1) and bias (input 2) gradients of a fully connected layer from its input ``x``
    (rows, in) and output gradient ``gy`` (rows, out): ``gW = gy^T x`` and ``gb`` the column sums
    of ``gy``, cut into ``parts`` blocks of output units (default: one per worker thread).

    Deferred (:mod:`recurrent_sim.models.deferred_gradients`), the applications of one layer in a
    backward pass merge into one product over all their rows.
    """

    def __init__(self, x, gy, parameters, parts=None):
        self.x, self.gy, self.parameters = x, gy, parameters  # {1: weight, 2: bias} (or None values)
        self.nbytes = x.nbytes + gy.nbytes
        self.chunk_count = worker_count() if parts is None else parts
        self.weight = self.bias = None
        if all(p is not None for p in parameters.values()):
            self.merge_key = (LinearParameterGradients,) + tuple((i, id(p)) for i, p in parameters.items())

    @classmethod
    def merge(cls, records):
        x = np.concatenate([record.x for record in records])
        gy = np.concatenate([record.gy for record in records])
        return cls(x, gy, records[0].parameters, records[0].chunk_count)

    def prepare(self):
        if 1 in self.parameters:
            self.weight = np.empty((self.gy.shape[1], self.x.shape[1]), dtype=self.x.dtype)
        self.bias = np.empty(self.gy.shape[1], dtype=self.gy.dtype)

    def part(self, index):
        lo, hi = column_blocks(len(self.bias), self.chunk_count)[index]
        if 1 in self.parameters:
            np.dot(self.gy[:, lo:hi].T, self.x, out=self.weight[lo:hi])
        self.bias[lo:hi] = self.gy[:, lo:hi].sum(axis=0)

    def arrays(self):
        """The gradients in the order of ``parameters``."""
        return [self.weight if i == 1 else self.bias for i in self.parameters]

    def results(self, parts):
        return list(zip(self.parameters.values(), self.arrays()))


def split_linear(link, x):
    """``link(x)`` for an ``L.Linear`` link and ``x`` (batch, ...), flattened to (batch, in) as the
    link does. On the fast CPU path (weights initialised) it is a :class:`SplitLinear` node, so that
    its parameters' gradients can be deferred; the products are split over the worker threads where
    that pays (several workers, a product of at least :data:`SPLIT_MIN_SIZE` multiply-adds)."""
    weight = link.W
    if weight.array is None or not fast_path(link.xp):
        return link(x)
    if x.ndim != 2:
        x = F.reshape(x, (len(x), -1))
    big = x.shape[0] * weight.shape[0] * weight.shape[1] >= SPLIT_MIN_SIZE
    inputs = (x, weight) if link.b is None else (x, weight, link.b)
    return SplitLinear(worker_count() if big else 1).apply(inputs)[0]
