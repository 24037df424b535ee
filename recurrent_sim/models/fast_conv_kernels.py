"""Array-level kernels of the fast channels-last convolutions: forward, input and weight gradients.

They work on numpy arrays in the block layout of
:class:`recurrent_sim.models.fast_conv_layout.BlockLayout`; the function
nodes of :mod:`recurrent_sim.models.fast_conv` call them.
"""
import numpy as np

from recurrent_sim.models.deferred_gradients import DeferredGradient
from recurrent_sim.models.fast_conv_layout import GRADIENT_CHUNK_FACTOR
from recurrent_sim.utils.cpu_pool import map_chunks


def masked(arrays, mask, start, stop):
    """``arrays[start:stop]``, zero where ``mask[start:stop]`` is not positive (``mask`` None: unchanged).

    The gradient through a fused ReLU whose output is ``mask``, made on one
    chunk while it is in cache instead of over the whole batch.
    """
    chunk = arrays[start:stop]
    if mask is None:
        return chunk
    return np.multiply(chunk, mask[start:stop] > 0)


def _run_chunks(run, batch, step):
    """``run(start)`` for the chunks of ``step`` items of a batch, spread over the worker threads."""
    starts = range(0, batch, step)
    return map_chunks(lambda i: run(starts[i]), len(starts))


def _finish(outputs, bias, relu):
    """Add the bias and apply the ReLU in place, on a chunk still in cache."""
    if bias is not None:
        outputs += bias
    if relu:
        np.maximum(outputs, 0, out=outputs)


def convolve(images, weight, layout, bias=None, relu=False, mask=None):
    """Convolution on arrays: (B, H, W, C) -> (B, out_h, out_w, Co), plus
    ``bias`` (Co,) and a ReLU when asked; ``mask`` (B, H, W, C) zeroes the
    images where it is not positive (see :func:`masked`).

    Long block vectors are multiplied once by all the taps side by side (a
    wide product, which BLAS runs faster than one narrow product per tap)
    and the taps' shifted slices summed; short ones are gathered into
    columns first (see :meth:`BlockLayout.gather`).
    """
    batch = len(images)
    taps = layout.tap_weights(weight)  # (taps, block, Co)
    n_taps, block, out_ch = taps.shape
    oh, ow = layout.out
    output = np.empty((batch, oh, ow, out_ch), dtype=images.dtype)
    if layout.per_tap:
        flat_taps = np.ascontiguousarray(taps.transpose(1, 0, 2)).reshape(block, n_taps * out_ch)
        per_cell = block + n_taps * out_ch
    else:
        flat_taps = taps.reshape(n_taps * block, out_ch)
        per_cell = n_taps * block + out_ch
    step = layout.chunk(batch, images.itemsize, per_cell)

    def run(start):
        stop = min(batch, start + step)
        blocks = layout.to_blocks(masked(images, mask, start, stop))
        n = len(blocks) - layout.shifts[-1]
        # Rows from n on are cells past the last output: never read.
        grid = np.empty((len(blocks), out_ch), dtype=images.dtype)
        if layout.per_tap:
            products = blocks @ flat_taps
            np.copyto(grid[:n], products[:n, :out_ch])
            for t, shift in enumerate(layout.shifts[1:], start=1):
                grid[:n] += products[shift : shift + n, t * out_ch : (t + 1) * out_ch]
        else:
            np.matmul(layout.gather(blocks), flat_taps, out=grid[:n])
        grid = grid.reshape((stop - start,) + layout.grid + (out_ch,))
        if bias is None:
            output[start:stop] = grid[:, :oh, :ow]
        else:
            np.add(grid[:, :oh, :ow], bias, out=output[start:stop])
        _finish(output[start:stop], None, relu)

    _run_chunks(run, batch, step)
    return output


def convolve_backward(grad_out, weight, layout, bias=None, relu=False, mask=None):
    """Gradient of a convolution with respect to its input, i.e. the
    deconvolution: (B, out_h, out_w, Co) -> (B, H, W, C), plus ``bias``
    (C,) and a ReLU when asked; ``mask`` (B, out_h, out_w, Co) zeroes
    ``grad_out`` where it is not positive.

    Block ``r`` receives ``grid[r - shift] @ tap`` from every tap. When the
    grid vectors are the shorter side (Co <= block), they are gathered,
    shifted, into one (cells, taps * Co) matrix and multiplied once, so
    each block is written once; otherwise each grid vector is multiplied
    by all taps at once and the products are added, shifted, into the blocks
    (channel-major, so each addition runs along contiguous rows).
    """
    batch = len(grad_out)
    taps = np.ascontiguousarray(layout.tap_weights(weight).transpose(0, 2, 1))  # (taps, Co, block)
    n_taps, out_ch, block = taps.shape
    gather = out_ch <= block
    if gather:
        flat_taps = taps.reshape(n_taps * out_ch, block)
    else:
        flat_taps = taps.transpose(0, 2, 1).reshape(n_taps * block, out_ch)
    height, width = layout.image
    output = np.empty((batch, height, width, layout.channels), dtype=grad_out.dtype)
    per_cell = n_taps * out_ch + block if gather else out_ch + n_taps * block + block
    step = layout.chunk(batch, grad_out.itemsize, per_cell)
    lead = layout.shifts[-1]

    def run(start):
        stop = min(batch, start + step)
        if gather:
            grid = layout.to_grid(masked(grad_out, mask, start, stop), lead=lead)  # lead zero rows first
            blocks = layout.gather_back(grid, lead) @ flat_taps
        else:
            # Channel-major, so that each shifted addition runs along rows
            # of n contiguous numbers.
            grid = layout.to_grid(masked(grad_out, mask, start, stop))
            n = len(grid) - lead
            products = flat_taps @ grid[:n].T  # (taps * block, n)
            blocks = np.zeros((block, len(grid)), dtype=grad_out.dtype)
            for t, shift in enumerate(layout.shifts):
                blocks[:, shift : shift + n] += products[t * block : (t + 1) * block]
            blocks = np.ascontiguousarray(blocks.T)
        layout.from_blocks(blocks, output[start:stop])
        _finish(output[start:stop], bias, relu)

    _run_chunks(run, batch, step)
    return output


class WeightGradient:
    """Weight gradient of a convolution, (Co, C, kh, kw) summed over the batch, as chunks of the batch.

    ``images_mask`` and ``grad_mask`` zero ``images`` and ``grad_out``
    where they are not positive (see :func:`masked`). With ``sums``
    ``"images"`` or ``"grad"`` the result also holds the sum of that
    (masked) argument over batch, height and width, (C,) or (Co,) (a bias
    gradient), taken from the chunks in cache. :meth:`part` computes one
    chunk's share (any thread, any order) and :meth:`combine` sums them;
    :meth:`run` runs them on the worker threads, and
    :mod:`recurrent_sim.models.deferred_gradients` together with the chunks
    of other layers (:class:`DeferredWeightGradient`).
    """

    def __init__(self, images, grad_out, layout, images_mask=None, grad_mask=None, sums=None):
        self.images, self.grad_out, self.layout = images, grad_out, layout
        self.images_mask, self.grad_mask, self.sums = images_mask, grad_mask, sums
        n_taps = len(layout.shifts)
        block, out_ch = layout.block, layout.out_channels
        per_cell = block + (n_taps + 1) * out_ch if layout.per_tap else block * n_taps + out_ch
        batch = len(images)
        step = layout.chunk(batch, images.itemsize, per_cell, GRADIENT_CHUNK_FACTOR)
        self.chunks = [(start, min(batch, start + step)) for start in range(0, batch, step)]

    def part(self, index):
        """Chunk ``index``'s share: ((taps, block, Co) array, channel sums or None)."""
        layout = self.layout
        start, stop = self.chunks[index]
        n_taps, out_ch, lead = len(layout.shifts), layout.out_channels, layout.shifts[-1]
        image_chunk = masked(self.images, self.images_mask, start, stop)
        grad_chunk = masked(self.grad_out, self.grad_mask, start, stop)
        blocks = layout.to_blocks(image_chunk)
        if layout.per_tap:
            # Tap t sums blocks[r + shift]^T grid[r] = blocks[r]^T grid[r - shift]:
            # the grid's shifted copies side by side, one wide product for all taps.
            columns = layout.gather_back(layout.to_grid(grad_chunk, lead=lead), lead)  # (cells, taps * Co)
            part = (blocks.T @ columns).reshape(layout.block, n_taps, out_ch).transpose(1, 0, 2)
        else:
            grid = layout.to_grid(grad_chunk)
            part = (layout.gather(blocks).T @ grid[: len(grid) - lead]).reshape(n_taps, layout.block, out_ch)
        if self.sums is None:
            return part, None
        summed = image_chunk if self.sums == "images" else grad_chunk
        return part, summed.reshape(-1, summed.shape[-1]).sum(axis=0)

    def combine(self, parts):
        """The weight gradient (Co, C, kh, kw) from every chunk's part, with the channel sums when asked:
        ``(weight gradient, sums)``."""
        total, channel_sums = parts[0]
        for part, part_sums in parts[1:]:
            total += part
            if channel_sums is not None:
                channel_sums = channel_sums + part_sums
        return self.layout.conv_weight(total), channel_sums

    def run(self):
        """``(weight gradient, channel sums)``, the chunks on the worker threads."""
        return self.combine(map_chunks(self.part, len(self.chunks)))


class DeferredWeightGradient(DeferredGradient):
    """The weight and bias gradients of one application of a convolution or deconvolution, deferred
    (:mod:`recurrent_sim.models.deferred_gradients`): ``job`` a :class:`WeightGradient` with channel
    sums, ``parameters`` ``{1: weight, 2: bias}`` (either may be missing)."""

    def __init__(self, job, parameters):
        self.job, self.parameters = job, parameters
        self.chunk_count = len(job.chunks)
        self.nbytes = sum(a.nbytes for a in (job.images, job.grad_out, job.images_mask, job.grad_mask) if a is not None)

    def part(self, index):
        return self.job.part(index)

    def results(self, parts):
        weight_grad, bias_grad = self.job.combine(parts)
        return [(parameter, weight_grad if i == 1 else bias_grad) for i, parameter in self.parameters.items()]
