"""ReLU with guided backpropagation (Springenberg et al., 2015).

Forward it is an ordinary ReLU. Backward, when guided backpropagation is
switched on, a gradient passes only where both the ReLU's input and the
incoming gradient are positive, which gives sharper saliency maps than the
plain gradient. With it off (training) the backward is the ordinary ReLU's.

Switch it on around the backward pass of a saliency computation::

    with guided_backprop():
        loss.backward()
"""
import contextlib

import chainer
from chainer import function_node
from chainer.utils import type_check

CONFIG_KEY = "guided_backprop"


def guided_backprop_enabled() -> bool:
    """Whether guided backpropagation is on in the current Chainer config."""
    return bool(getattr(chainer.config, CONFIG_KEY, False))


@contextlib.contextmanager
def guided_backprop(enabled=True):
    """Context in which :func:`guided_relu` backpropagates guided gradients."""
    with chainer.using_config(CONFIG_KEY, enabled):
        yield


class GuidedReLU(function_node.FunctionNode):
    """``max(x, 0)``; guided or plain backward (decided when backward runs)."""

    def check_type_forward(self, in_types):
        type_check._argname(in_types, ("x",))
        type_check.expect(in_types[0].dtype.kind == "f")

    def forward(self, inputs):
        (x,) = inputs
        xp = chainer.backend.get_array_module(x)
        y = xp.maximum(x, x.dtype.type(0))
        self.retain_outputs((0,))
        return (y,)

    def backward(self, indexes, grad_outputs):
        (y,) = self.get_retained_outputs()
        (gy,) = grad_outputs
        mask = y.array > 0
        if guided_backprop_enabled():
            mask = mask & (gy.array > 0)
        return (gy * mask.astype(gy.dtype),)


def guided_relu(x):
    """Guided-backprop ReLU of a Variable or array of floats (any shape)."""
    (y,) = GuidedReLU().apply((x,))
    return y
