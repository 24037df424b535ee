"""Optimisers for the simulator."""
import chainer

from recurrent_sim.utils.settings import Setting, non_negative_float, positive_float

OPTIMIZERS = ("adam", "rmsprop_graves")
OPTIMIZER = Setting("optimizer", "adam", "adam, or the paper's centred RMSProp", choices=OPTIMIZERS,
                    original_flag="--optimizer-sim")
LR = Setting("lr", 1e-4, "learning rate", positive_float, original_flag="--lr-sim")
GRAD_CLIP = Setting("grad_clip", 10.0, "clip the gradient to this L2 norm, 0 for none", non_negative_float)


def make_optimizer(simulator, name=OPTIMIZER.default, lr=LR.default, grad_clip=GRAD_CLIP.default):
    """Set up an optimiser on ``simulator``.

    ``adam``: Adam with step size ``lr``. ``rmsprop_graves``: the paper's
    centred RMSProp (decay 0.95, momentum 0.9, eps 0.01; the paper used lr
    1e-5 with 500k updates). Gradients are clipped to L2 norm ``grad_clip``
    (0 disables).
    """
    if lr <= 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    if name == "adam":
        optimizer = chainer.optimizers.Adam(alpha=lr)
    elif name == "rmsprop_graves":
        optimizer = chainer.optimizers.RMSpropGraves(lr=lr, alpha=0.95, momentum=0.9, eps=0.01)
    else:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    optimizer.setup(simulator)
    if grad_clip:
        optimizer.add_hook(chainer.optimizer_hooks.GradientClipping(grad_clip))
    return optimizer
