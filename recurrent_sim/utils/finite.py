"""Finite checks of what is saved and loaded: arrays, links, optimizers.

Nothing that is not finite (NaN, +inf, -inf) is ever written to disk or
accepted from it: every save checks the arrays it is about to write with
:func:`require_finite` and raises :class:`NonFiniteError` (the previous file
is then left as it was); every load checks the arrays it read with
:func:`nonfinite_names` and refuses the file. Only floating-point arrays
can hold non-finite values; integer, boolean and text arrays pass.
"""
import chainer
import numpy as np

from recurrent_sim.utils.errors import UserError

MAX_NAMES = 3  # names listed in a message; the rest are counted


class NonFiniteError(Exception):
    """Values about to be saved are not finite; nothing was written.

    Command lines report it in one line and exit with status 1; the message
    names what was not finite and, where known, the likely cause.
    """


class NonFiniteLoadError(UserError):
    """A file holds values that are not finite; it was not loaded (exit status 2)."""


def is_finite(array) -> bool:
    """True when ``array`` (numpy or CuPy, any shape; or a Python number) holds no NaN or infinity."""
    if array is None:
        return True
    if not hasattr(array, "dtype"):
        array = np.asarray(array)
    if array.dtype.kind not in "fc":
        return True
    xp = chainer.backend.get_array_module(array)
    return bool(xp.isfinite(array).all())


def nonfinite_names(named_arrays) -> list:
    """Names of the arrays of ``named_arrays`` (a dict or ``(name, array)`` pairs) that are not finite."""
    items = named_arrays.items() if isinstance(named_arrays, dict) else named_arrays
    return [name for name, array in items if not is_finite(array)]


def summarize_names(names) -> str:
    """'a, b, c and 4 more' for messages."""
    shown = ", ".join(names[:MAX_NAMES])
    if len(names) > MAX_NAMES:
        shown += f" and {len(names) - MAX_NAMES} more"
    return shown


def link_arrays(link, prefix=""):
    """``(name, array)`` of every parameter and persistent value of a Chainer link."""
    for name, param in link.namedparams():
        yield prefix + name, param.array
    for name, sub in [("", link)] + [(n, lk) for n, lk in link.namedlinks(skipself=True)]:
        for persistent in sorted(getattr(sub, "_persistent", ())):
            yield f"{prefix}{name}/{persistent}", getattr(sub, persistent)


def optimizer_arrays(optimizer, prefix="optimizer"):
    """``(name, array)`` of every state array of a set-up Chainer optimizer (Adam moments ...)."""
    target = getattr(optimizer, "target", None)
    if target is None:
        return
    for name, param in target.namedparams():
        rule = getattr(param, "update_rule", None)
        for key, value in sorted((getattr(rule, "state", None) or {}).items()):
            yield f"{prefix}{name}/{key}", value


def require_finite(named_arrays, what, cause=""):
    """Raise :class:`NonFiniteError` unless every array of ``named_arrays`` is finite.

    Args:
        named_arrays: dict or ``(name, array)`` pairs.
        what: what was about to be saved ('simulator', 'agent' ...).
        cause: the likely cause, appended to the message ('try a lower --lr').
    """
    bad = nonfinite_names(named_arrays)
    if bad:
        message = f"{what} not saved: {summarize_names(bad)} hold NaN or infinite values"
        raise NonFiniteError(message + (f"; {cause}" if cause else ""))


def refuse_nonfinite(named_arrays, path, error=NonFiniteLoadError):
    """Raise ``error`` (a :class:`NonFiniteLoadError` by default) naming ``path`` unless every
    array read from it is finite."""
    bad = nonfinite_names(named_arrays)
    if bad:
        raise error(
            f"{path} holds NaN or infinite values ({summarize_names(bad)}); it is damaged and was not loaded: "
            "use an earlier file"
        )
