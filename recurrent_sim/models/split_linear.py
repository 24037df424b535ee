"""A fully connected layer whose products are split by columns over the worker threads (CPU, training).

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

Same values as ``F.linear`` up to float rounding. With one worker, on a
GPU, off the fast CPU path (``chainer.using_config("fast_cpu_conv", False)``,
the plain reference) or for products below :data:`SPLIT_MIN_SIZE`
multiply-adds it is ``F.linear`` itself. When a graph of the gradient is
asked for (double backprop), the gradients are built from Chainer's own
functions, so they are differentiable too.
"""
import chainer
import chainer.functions as F
import numpy as np
from chainer import function_node

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
        if 1 in indexes or 2 in indexes:
            gw = np.empty_like(weight)
            gb = np.empty(len(weight), dtype=gy.dtype)
            out_blocks = column_blocks(len(weight), self.parts)

            def parameter_gradients(i):
                lo, hi = out_blocks[i]
                np.dot(gy[:, lo:hi].T, x, out=gw[lo:hi])
                gb[lo:hi] = gy[:, lo:hi].sum(axis=0)

            map_chunks(parameter_gradients, self.parts)
            out[1], out[2] = gw, gb
        return tuple(chainer.Variable(out[i], requires_grad=False) for i in indexes)


def split_linear(link, x):
    """``link(x)`` for an ``L.Linear`` link (weights initialised) and (batch, in) ``x``, split over the
    worker threads where that pays (the fast CPU path, several workers, a product of at least
    :data:`SPLIT_MIN_SIZE`)."""
    workers = worker_count()
    weight = link.W
    if weight.array is None or not fast_path(link.xp) or workers <= 1:
        return link(x)
    batch = x.shape[0]
    if batch * weight.shape[0] * weight.shape[1] < SPLIT_MIN_SIZE:
        return link(x)
    inputs = (x, weight) if link.b is None else (x, weight, link.b)
    return SplitLinear(workers).apply(inputs)[0]
