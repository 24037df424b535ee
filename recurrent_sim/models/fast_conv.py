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
import chainer
import numpy as np
from chainer import function_node
from chainer import functions as F
from chainer.utils import type_check

from recurrent_sim.models import deferred_gradients
from recurrent_sim.models.config import conv_output_size  # NOQA (part of this module's interface)
from recurrent_sim.models.fast_conv_kernels import DeferredWeightGradient, WeightGradient, convolve, convolve_backward
from recurrent_sim.models.fast_conv_layout import BlockLayout, pair

CONFIG_KEY = "fast_cpu_conv"


def fast_path(xp):
    """Whether layers on arrays of module ``xp`` should use this module.

    True for numpy unless switched off with
    ``chainer.using_config("fast_cpu_conv", False)`` (which gives Chainer's
    own CPU convolutions, e.g. to time them).
    """
    return xp is np and bool(getattr(chainer.config, CONFIG_KEY, True))


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


class _ChannelsLastNode(function_node.FunctionNode):
    """What the convolution and the deconvolution share: their settings, the
    checks, the fused bias and ReLU, and a backward pass made of the other
    function. A subclass gives its weight's input-channel axis, its block
    layout and its array kernel."""

    weight_input_axis = None

    def __init__(self, stride, pad, relu=False):
        self.stride = pair(stride)
        self.pad = pair(pad)
        self.relu = relu
        self.layout = None

    def check_type_forward(self, in_types):
        _check_types(in_types, self.weight_input_axis)

    def forward(self, inputs):
        _check_numpy(inputs)
        self.retain_inputs((0, 1))
        x, weight = inputs[:2]
        self.layout = self._layout(x.shape[1:3], weight.shape[2:], weight.shape)
        bias = inputs[2] if len(inputs) == 3 else None
        if self.relu:
            self.retain_outputs((0,))
        return (self._compute(x, weight, self.layout, bias, self.relu),)

    def _backward_arrays(self, indexes, x, weight, grad_out, mask):
        """Gradients as arrays, ``mask`` the retained ReLU output or None."""
        grads = []
        if 0 in indexes:
            grads.append(self._input_gradient_array(grad_out, weight, mask))
        if 1 in indexes or 2 in indexes:
            weight_grad, bias_grad = self._weight_gradient_job(x, grad_out, mask).run()
            grads += [weight_grad] if 1 in indexes else []
            grads += [bias_grad] if 2 in indexes else []
        return grads

    def _backward_without_graph(self, indexes, x, weight, grad_out):
        """Gradients when no graph of them is wanted (no double backprop): one pass on arrays, the
        ReLU's mask and the bias gradient taken chunk by chunk; the parameters' gradients are
        deferred inside a :func:`deferred_gradients.deferred_parameter_gradients` block."""
        mask = self.get_retained_outputs()[0].array if self.relu else None
        computed = indexes
        parameters = deferred_gradients.leaf_parameters(self, [i for i in indexes if i > 0])
        if parameters:
            job = self._weight_gradient_job(x, grad_out, mask)
            deferred_gradients.defer(DeferredWeightGradient(job, parameters))
            computed = [i for i in indexes if i == 0]
        grads = dict(zip(computed, self._backward_arrays(computed, x, weight, grad_out, mask)))
        return tuple(chainer.Variable(grads[i], requires_grad=False) if i in grads else None for i in indexes)

    def backward(self, indexes, grad_outputs):
        x, weight = self.get_retained_inputs()
        if not chainer.config.enable_backprop:
            return self._backward_without_graph(indexes, x.array, weight.array, grad_outputs[0].array)
        grad_out = _mask_relu(self, grad_outputs[0])
        grads = []
        if 0 in indexes:
            grads.append(self._input_gradient(grad_out, weight))
        if 1 in indexes:
            grads.append(self._weight_gradient(x, grad_out))
        if 2 in indexes:
            grads.append(F.sum(grad_out, axis=(0, 1, 2)))
        return grads


class ConvolutionNHWC(_ChannelsLastNode):
    """2-D convolution of channels-last images (see :func:`convolution_2d_nhwc`)."""

    weight_input_axis = 1

    def _layout(self, image, kernel, weight_shape):
        out = tuple(conv_output_size(*a) for a in zip(image, kernel, self.stride, self.pad))
        if min(out) <= 0:
            raise ValueError(f"convolution output would be empty: image {image}, kernel {kernel}")
        return BlockLayout(kernel, self.stride, self.pad, image, out, weight_shape[1], weight_shape[0])

    _compute = staticmethod(convolve)

    def _input_gradient_array(self, grad_out, weight, mask):
        return convolve_backward(grad_out, weight, self.layout, mask=mask)

    def _weight_gradient_job(self, x, grad_out, mask):
        return WeightGradient(x, grad_out, self.layout, grad_mask=mask, sums="grad")

    def _input_gradient(self, grad_out, weight):
        return DeconvolutionNHWC(self.stride, self.pad, self.layout.image).apply((grad_out, weight))[0]

    def _weight_gradient(self, images, grad_out):
        return ConvolutionNHWCGradW(self.layout).apply((images, grad_out))[0]


class DeconvolutionNHWC(_ChannelsLastNode):
    """2-D transposed convolution of channels-last images
    (see :func:`deconvolution_2d_nhwc`)."""

    weight_input_axis = 0

    def __init__(self, stride, pad, outsize=None, relu=False):
        super().__init__(stride, pad, relu)
        self.outsize = None if outsize is None else pair(outsize)

    def _layout(self, size, kernel, weight_shape):
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
        return BlockLayout(kernel, self.stride, self.pad, image, size, weight_shape[1], weight_shape[0])

    _compute = staticmethod(convolve_backward)

    def _input_gradient_array(self, grad_out, weight, mask):
        return convolve(grad_out, weight, self.layout, mask=mask)

    def _weight_gradient_job(self, x, grad_out, mask):
        # The convolution's weight gradient with image grad_out and output x.
        return WeightGradient(grad_out, x, self.layout, images_mask=mask, sums="images")

    def _input_gradient(self, grad_out, weight):
        return ConvolutionNHWC(self.stride, self.pad).apply((grad_out, weight))[0]

    def _weight_gradient(self, x, grad_out):
        # A convolution's weight gradient with image grad_out and output x:
        # shaped (in_channels, out_channels, kh, kw), the deconvolution's layout.
        return ConvolutionNHWCGradW(self.layout).apply((grad_out, x))[0]


class ConvolutionNHWCGradW(function_node.FunctionNode):
    """Weight gradient of a channels-last convolution: inputs ``(images,
    grad_out)``, output (out_channels, in_channels, kh, kw)."""

    def __init__(self, layout):
        self.layout = layout

    def forward(self, inputs):
        _check_numpy(inputs)
        self.retain_inputs((0, 1))
        images, grad_out = inputs
        return (WeightGradient(images, grad_out, self.layout).run()[0],)

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
