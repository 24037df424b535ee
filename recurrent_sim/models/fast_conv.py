"""Fast CPU convolution and deconvolution of channels-last (NHWC) images.

Chainer's CPU convolution builds a ``(batch, C, kh, kw, out_h, out_w)``
column array, multiplies it with ``numpy.tensordot`` (which copies it again)
and, going back, sums columns into images with one strided addition per
kernel tap and output pixel row; on Atari-sized frames most of its time is
spent moving memory. This module computes the same functions with a
layout in which every kernel tap is a contiguous slice:

1. *Space to depth.* A stride-``(sy, sx)`` convolution of a padded image is
   a stride-1 convolution of its ``(sy, sx)`` blocks: the image becomes a
   grid of ``(rows, cols, sy * sx * C)`` block vectors and the kernel a
   grid of ``(my, mx) = ceil((kh, kw) / (sy, sx))`` block taps.
2. *Flat shifts.* With the grid flattened to ``rows * cols`` block vectors,
   the block tap ``(i, j)`` of every output pixel is the row
   ``i * cols + j`` further on, so each tap is ONE matrix product of a
   contiguous slice, summed into the result. Grid cells beyond the valid
   outputs are computed and dropped (forward) or held at zero (backward).
3. When the block vectors are short (a one-channel image, e.g. the first
   layer of the encoder or the last of the decoder), the taps are instead
   gathered into one column matrix and multiplied once. The deconvolution
   gathers the shifted taps of its (short) input vectors the same way, so
   that each output block is written once, by one matrix product.

The gradient of the convolution with respect to its input is the
deconvolution and vice versa; the weight gradient is one more product per
tap. Batches are processed in chunks of a few megabytes, so the work stays
in cache. Weights keep Chainer's layouts, ``(out_channels, in_channels,
kh, kw)`` for the convolution and ``(in_channels, out_channels, kh, kw)``
for the deconvolution, so the parameters of ``L.Convolution2D`` and
``L.Deconvolution2D`` links are used as they are. Only numpy arrays are
supported (dilation 1, one group, ``cover_all=False``); on a GPU use
Chainer's own functions. Every backward pass is written with these same
function nodes, so gradients can be differentiated again.
"""
import math

import chainer
import numpy as np
from chainer import function_node
from chainer import functions as F
from chainer.utils import type_check

# Target size of one chunk's block grid, bytes: the batch is split so that
# the arrays of one chunk stay in the processor's cache.
CHUNK_BYTES = 2 * 2**20
# Below this length of block vector (sy * sx * channels), taps are gathered
# into a column matrix and multiplied once instead of one product per tap.
MIN_BLOCK_FOR_TAPS = 32


CONFIG_KEY = "fast_cpu_conv"


def fast_path(xp):
    """Whether layers on arrays of module ``xp`` should use this module.

    True for numpy unless switched off with
    ``chainer.using_config("fast_cpu_conv", False)`` (which gives Chainer's
    own CPU convolutions, e.g. to time them).
    """
    return xp is np and bool(getattr(chainer.config, CONFIG_KEY, True))


def _pair(value):
    if isinstance(value, (tuple, list)):
        first, second = value
        return int(first), int(second)
    return int(value), int(value)


def conv_output_size(size, kernel, stride, pad):
    """Output length of a convolution along one axis (``cover_all=False``)."""
    return (size + 2 * pad - kernel) // stride + 1


class _Layout:
    """Block-grid geometry of one convolution.

    ``image`` is the (height, width) the convolution reads (the output of the
    matching deconvolution); ``out`` the (height, width) it writes (the input
    of the deconvolution).
    """

    def __init__(self, kernel, stride, pad, image, out, channels, out_channels):
        self.kernel, self.stride, self.pad = kernel, stride, pad
        self.image, self.out = image, out
        self.channels, self.out_channels = channels, out_channels
        self.taps = tuple(math.ceil(k / s) for k, s in zip(kernel, stride))  # (my, mx)
        self.grid = tuple(o + m - 1 for o, m in zip(out, self.taps))  # (rows, cols)
        self.block = stride[0] * stride[1] * channels
        self.cells = self.grid[0] * self.grid[1]
        self.shifts = [
            i * self.grid[1] + j for i in range(self.taps[0]) for j in range(self.taps[1])
        ]
        self.per_tap = self.block >= MIN_BLOCK_FOR_TAPS
        # Whether the grid reaches every image pixel (else the trailing
        # pixels, read by no window, get a zero gradient).
        self.covers_image = all(s * g - p >= i for s, g, p, i in zip(stride, self.grid, pad, image))
        self.phases = []  # (u, v, rows of grid, rows of image, cols of grid, cols of image)
        for u in range(stride[0]):
            rows = self._phase(u, 0)
            for v in range(stride[1]):
                cols = self._phase(v, 1)
                if rows is not None and cols is not None:
                    self.phases.append((u, v) + rows + cols)

    def _phase(self, offset, axis):
        """Grid and image index slices of the pixels of block phase ``offset``."""
        stride, pad, size, cells = self.stride[axis], self.pad[axis], self.image[axis], self.grid[axis]
        first_cell = max(0, -((offset - pad) // stride))
        first_pixel = stride * first_cell + offset - pad
        count = min(cells - first_cell, -((first_pixel - size) // stride))
        if count <= 0:
            return None
        last_pixel = first_pixel + stride * (count - 1) + 1
        return slice(first_cell, first_cell + count), slice(first_pixel, last_pixel, stride)

    def chunk(self, batch, itemsize, per_cell):
        """Batch items per chunk, for temporaries of ``per_cell`` numbers per grid cell."""
        per_item = self.cells * per_cell * itemsize
        return int(max(1, min(batch, CHUNK_BYTES // max(per_item, 1))))

    # ----- layout conversions ------------------------------------------------
    def to_blocks(self, images):
        """(b, H, W, C) images -> (b * rows * cols, sy * sx * C) block vectors."""
        b = len(images)
        blocks = np.zeros((b,) + self.grid + self.stride + (self.channels,), dtype=images.dtype)
        for u, v, grid_rows, image_rows, grid_cols, image_cols in self.phases:
            blocks[:, grid_rows, grid_cols, u, v] = images[:, image_rows, image_cols]
        return blocks.reshape(b * self.cells, self.block)

    def from_blocks(self, blocks, out):
        """Block vectors (b * rows * cols, sy * sx * C) -> images ``out`` (b, H, W, C)."""
        b = len(out)
        blocks = blocks.reshape((b,) + self.grid + self.stride + (self.channels,))
        if not self.covers_image:
            out[...] = 0
        for u, v, grid_rows, image_rows, grid_cols, image_cols in self.phases:
            out[:, image_rows, image_cols] = blocks[:, grid_rows, grid_cols, u, v]
        return out

    def to_grid(self, outputs, lead=0):
        """(b, out_h, out_w, Co) -> (lead + b * rows * cols, Co), zero outside
        the outputs (and in the ``lead`` first rows)."""
        b = len(outputs)
        flat = np.zeros((lead + b * self.cells, self.out_channels), dtype=outputs.dtype)
        grid = flat[lead:].reshape((b,) + self.grid + (self.out_channels,))
        grid[:, : self.out[0], : self.out[1]] = outputs
        return flat

    def gather(self, blocks):
        """Column matrix (n, taps * block) of the taps of the first n cells,
        copied from a strided view of the C-ordered ``blocks`` in one go."""
        n = len(blocks) - self.shifts[-1]
        row = blocks.strides[0]
        taps = np.lib.stride_tricks.as_strided(
            blocks,
            shape=(n,) + self.taps + (self.block,),
            strides=(row, self.grid[1] * row, row, blocks.strides[1]),
            writeable=False,
        )
        columns = np.empty(taps.shape, dtype=blocks.dtype)
        np.copyto(columns, taps)
        return columns.reshape(n, len(self.shifts) * self.block)

    def gather_back(self, grid, lead):
        """Column matrix (cells, taps * Co): row r holds ``grid[lead + r - shift]``
        for every tap, from a ``grid`` whose ``lead`` first rows are zero."""
        cells = len(grid) - lead
        row = grid.strides[0]
        taps = np.lib.stride_tricks.as_strided(
            grid[lead:],  # steps back into the zero rows
            shape=(cells,) + self.taps + (grid.shape[1],),
            strides=(row, -self.grid[1] * row, -row, grid.strides[1]),
            writeable=False,
        )
        columns = np.empty(taps.shape, dtype=grid.dtype)
        np.copyto(columns, taps)
        return columns.reshape(cells, len(self.shifts) * grid.shape[1])

    # ----- weights ------------------------------------------------------------
    def tap_weights(self, weight):
        """(Co, C, kh, kw) conv weight -> (taps, sy * sx * C, Co) tap matrices."""
        (my, mx), (sy, sx) = self.taps, self.stride
        out_ch, in_ch, kh, kw = weight.shape
        padded = np.zeros((out_ch, in_ch, my * sy, mx * sx), dtype=weight.dtype)
        padded[:, :, :kh, :kw] = weight
        padded = padded.reshape(out_ch, in_ch, my, sy, mx, sx).transpose(2, 4, 3, 5, 1, 0)
        return np.ascontiguousarray(padded).reshape(my * mx, sy * sx * in_ch, out_ch)

    def conv_weight(self, taps):
        """Inverse of :meth:`tap_weights`: (taps, block, Co) -> (Co, C, kh, kw)."""
        (my, mx), (sy, sx) = self.taps, self.stride
        out_ch = taps.shape[2]
        weight = taps.reshape(my, mx, sy, sx, self.channels, out_ch).transpose(5, 4, 0, 2, 1, 3)
        weight = weight.reshape(out_ch, self.channels, my * sy, mx * sx)
        return np.ascontiguousarray(weight[:, :, : self.kernel[0], : self.kernel[1]])


def _finish(outputs, bias, relu):
    """Add the bias and apply the ReLU in place, on a chunk still in cache."""
    if bias is not None:
        outputs += bias
    if relu:
        np.maximum(outputs, 0, out=outputs)


def _convolve(images, weight, layout, bias=None, relu=False):
    """Convolution on arrays: (B, H, W, C) -> (B, out_h, out_w, Co), plus
    ``bias`` (Co,) and a ReLU when asked.

    Long block vectors are multiplied once by all the taps side by side (a
    wide product, which BLAS runs faster than one narrow product per tap)
    and the taps' shifted slices summed; short ones are gathered into
    columns first (see :meth:`_Layout.gather`).
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
    for start in range(0, batch, step):
        stop = min(batch, start + step)
        blocks = layout.to_blocks(images[start:stop])
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
    return output


def _convolve_backward(grad_out, weight, layout, bias=None, relu=False):
    """Gradient of a convolution with respect to its input, i.e. the
    deconvolution: (B, out_h, out_w, Co) -> (B, H, W, C), plus ``bias``
    (C,) and a ReLU when asked.

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
    for start in range(0, batch, step):
        stop = min(batch, start + step)
        if gather:
            grid = layout.to_grid(grad_out[start:stop], lead=lead)  # lead zero rows first
            blocks = layout.gather_back(grid, lead) @ flat_taps
        else:
            # Channel-major, so that each shifted addition runs along rows
            # of n contiguous numbers.
            grid = layout.to_grid(grad_out[start:stop])
            n = len(grid) - lead
            products = flat_taps @ grid[:n].T  # (taps * block, n)
            blocks = np.zeros((block, len(grid)), dtype=grad_out.dtype)
            for t, shift in enumerate(layout.shifts):
                blocks[:, shift : shift + n] += products[t * block : (t + 1) * block]
            blocks = np.ascontiguousarray(blocks.T)
        layout.from_blocks(blocks, output[start:stop])
        _finish(output[start:stop], bias, relu)
    return output


def _weight_gradient(images, grad_out, layout):
    """Weight gradient of a convolution: (Co, C, kh, kw), summed over the batch."""
    batch = len(images)
    n_taps = len(layout.shifts)
    total = np.zeros((n_taps, layout.block, layout.out_channels), dtype=images.dtype)
    flat_total = total.reshape(n_taps * layout.block, layout.out_channels)
    per_cell = layout.block * (1 if layout.per_tap else n_taps) + layout.out_channels
    step = layout.chunk(batch, images.itemsize, per_cell)
    for start in range(0, batch, step):
        stop = min(batch, start + step)
        blocks = layout.to_blocks(images[start:stop])
        grid = layout.to_grid(grad_out[start:stop])
        n = len(grid) - layout.shifts[-1]
        if layout.per_tap:
            for shift, tap_total in zip(layout.shifts, total):
                tap_total += blocks[shift : shift + n].T @ grid[:n]
        else:
            flat_total += layout.gather(blocks).T @ grid[:n]
    return layout.conv_weight(total)


def _check_numpy(arrays):
    for array in arrays:
        if not isinstance(array, np.ndarray):
            raise TypeError("fast_conv works on numpy arrays only; use chainer.functions on a GPU")


def _check_types(in_types, channel_axis_of_weight):
    n_in = in_types.size()
    type_check.expect(2 <= n_in, n_in <= 3)
    x_type, w_type = in_types[:2]
    type_check.expect(
        x_type.dtype.kind == "f",
        w_type.dtype == x_type.dtype,
        x_type.ndim == 4,
        w_type.ndim == 4,
        x_type.shape[3] == w_type.shape[channel_axis_of_weight],
    )
    if type_check.eval(n_in) == 3:
        b_type = in_types[2]
        type_check.expect(
            b_type.dtype == x_type.dtype,
            b_type.ndim == 1,
            b_type.shape[0] == w_type.shape[1 - channel_axis_of_weight],
        )


def _mask_relu(node, grad_out):
    """``grad_out`` through the fused ReLU of ``node`` (zero where it clipped)."""
    if not node.relu:
        return grad_out
    (output,) = node.get_retained_outputs()
    return grad_out * (output.array > 0).astype(output.dtype)


class ConvolutionNHWC(function_node.FunctionNode):
    """2-D convolution of channels-last images (see :func:`convolution_2d_nhwc`)."""

    def __init__(self, stride, pad, relu=False):
        self.stride = _pair(stride)
        self.pad = _pair(pad)
        self.relu = relu
        self.layout = None

    def check_type_forward(self, in_types):
        _check_types(in_types, 1)

    def forward(self, inputs):
        _check_numpy(inputs)
        self.retain_inputs((0, 1))
        images, weight = inputs[:2]
        image = images.shape[1:3]
        kernel = weight.shape[2:]
        out = tuple(conv_output_size(*a) for a in zip(image, kernel, self.stride, self.pad))
        if min(out) <= 0:
            raise ValueError(f"convolution output would be empty: image {image}, kernel {kernel}")
        self.layout = _Layout(kernel, self.stride, self.pad, image, out, weight.shape[1], weight.shape[0])
        bias = inputs[2] if len(inputs) == 3 else None
        if self.relu:
            self.retain_outputs((0,))
        return (_convolve(images, weight, self.layout, bias, self.relu),)

    def backward(self, indexes, grad_outputs):
        images, weight = self.get_retained_inputs()
        grad_out = _mask_relu(self, grad_outputs[0])
        grads = []
        if 0 in indexes:
            grads.append(DeconvolutionNHWC(self.stride, self.pad, self.layout.image).apply((grad_out, weight))[0])
        if 1 in indexes:
            grads.append(ConvolutionNHWCGradW(self.layout).apply((images, grad_out))[0])
        if 2 in indexes:
            grads.append(F.sum(grad_out, axis=(0, 1, 2)))
        return grads


class DeconvolutionNHWC(function_node.FunctionNode):
    """2-D transposed convolution of channels-last images
    (see :func:`deconvolution_2d_nhwc`)."""

    def __init__(self, stride, pad, outsize=None, relu=False):
        self.stride = _pair(stride)
        self.pad = _pair(pad)
        self.outsize = None if outsize is None else _pair(outsize)
        self.relu = relu
        self.layout = None

    def check_type_forward(self, in_types):
        _check_types(in_types, 0)

    def forward(self, inputs):
        _check_numpy(inputs)
        self.retain_inputs((0, 1))
        x, weight = inputs[:2]
        size = x.shape[1:3]
        kernel = weight.shape[2:]
        if self.outsize is None:
            image = tuple(s * (n - 1) + k - 2 * p for n, k, s, p in zip(size, kernel, self.stride, self.pad))
        else:
            image = self.outsize
            if tuple(conv_output_size(*a) for a in zip(image, kernel, self.stride, self.pad)) != size:
                raise ValueError(
                    f"outsize {image} does not match the input {size} "
                    f"(kernel {kernel}, stride {self.stride}, pad {self.pad})"
                )
        if min(image) <= 0:
            raise ValueError(f"deconvolution output would be empty: {image}")
        # The matching convolution reads (out_channels) and writes (in_channels).
        self.layout = _Layout(kernel, self.stride, self.pad, image, size, weight.shape[1], weight.shape[0])
        bias = inputs[2] if len(inputs) == 3 else None
        if self.relu:
            self.retain_outputs((0,))
        return (_convolve_backward(x, weight, self.layout, bias, self.relu),)

    def backward(self, indexes, grad_outputs):
        x, weight = self.get_retained_inputs()
        grad_out = _mask_relu(self, grad_outputs[0])
        grads = []
        if 0 in indexes:
            grads.append(ConvolutionNHWC(self.stride, self.pad).apply((grad_out, weight))[0])
        if 1 in indexes:
            # A convolution's weight gradient with image grad_out and output x:
            # shaped (in_channels, out_channels, kh, kw), the deconvolution's layout.
            grads.append(ConvolutionNHWCGradW(self.layout).apply((grad_out, x))[0])
        if 2 in indexes:
            grads.append(F.sum(grad_out, axis=(0, 1, 2)))
        return grads


class ConvolutionNHWCGradW(function_node.FunctionNode):
    """Weight gradient of a channels-last convolution: inputs ``(images,
    grad_out)``, output (out_channels, in_channels, kh, kw)."""

    def __init__(self, layout):
        self.layout = layout

    def forward(self, inputs):
        _check_numpy(inputs)
        self.retain_inputs((0, 1))
        images, grad_out = inputs
        return (_weight_gradient(images, grad_out, self.layout),)

    def backward(self, indexes, grad_outputs):
        images, grad_out = self.get_retained_inputs()
        (grad_weight,) = grad_outputs
        layout = self.layout
        grads = []
        if 0 in indexes:
            grads.append(
                DeconvolutionNHWC(layout.stride, layout.pad, layout.image).apply((grad_out, grad_weight))[0]
            )
        if 1 in indexes:
            grads.append(ConvolutionNHWC(layout.stride, layout.pad).apply((images, grad_weight))[0])
        return grads


def convolution_2d_nhwc(x, W, b=None, stride=1, pad=0, relu=False):
    """2-D convolution of channels-last images on the CPU.

    Same result as ``F.convolution_2d`` on the NCHW transposes (dilation 1,
    one group, ``cover_all=False``), up to float rounding.

    Args:
        x: (batch, height, width, in_channels) float32/float64 numpy array
            or Variable.
        W: (out_channels, in_channels, kh, kw) weights, Chainer's layout.
        b: (out_channels,) bias or None.
        stride, pad: int or (vertical, horizontal) pair, pixels.
        relu: apply a ReLU to the result, fused (``F.relu`` of the result,
            without two more passes over it).
    Returns:
        Variable (batch, out_h, out_w, out_channels), the dtype of ``x``, with
        ``out_h = (height + 2 * pad - kh) // stride + 1`` (same for width).
    """
    inputs = (x, W) if b is None else (x, W, b)
    return ConvolutionNHWC(stride, pad, relu).apply(inputs)[0]


def deconvolution_2d_nhwc(x, W, b=None, stride=1, pad=0, outsize=None, relu=False):
    """2-D transposed convolution of channels-last images on the CPU.

    Same result as ``F.deconvolution_2d`` on the NCHW transposes (dilation
    1, one group): the gradient of :func:`convolution_2d_nhwc` with respect
    to its input.

    Args:
        x: (batch, in_h, in_w, in_channels) float32/float64 numpy array or
            Variable.
        W: (in_channels, out_channels, kh, kw) weights, Chainer's layout.
        b: (out_channels,) bias or None.
        stride, pad: int or (vertical, horizontal) pair, pixels.
        outsize: (height, width) of the result; by default
            ``stride * (in - 1) + k - 2 * pad``. A convolution of that size
            must give back ``(in_h, in_w)``.
        relu: apply a ReLU to the result, fused.
    Returns:
        Variable (batch, height, width, out_channels).
    """
    inputs = (x, W) if b is None else (x, W, b)
    return DeconvolutionNHWC(stride, pad, outsize, relu).apply(inputs)[0]
