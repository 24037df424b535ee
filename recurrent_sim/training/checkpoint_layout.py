"""Does a checkpoint's arrays fit a model? Names, shapes and dtypes, checked before loading.

Chainer's ``NpzDeserializer`` copies a stored array into a parameter with
``numpy.copyto``, which broadcasts: a ``(64, 1)`` array fills a ``(64, 32)``
weight with 32 copies of one column, and a float64 array is cast silently.
:func:`layout_problem` visits a freshly built model (or set-up optimizer)
the way a deserializer does, loading nothing, and compares every array it
asks for with the stored one: same name, same shape, same dtype, and no
stored array the model lacks. It knows no architecture: whatever the model's
parameters and persistent values are, they are the reference.
"""
import chainer
import numpy as np
from chainer.serializer import Deserializer

from recurrent_sim.utils.finite import summarize_names


def _layout(value):
    """(shape, dtype) a target value needs; None for a parameter not initialized yet (any shape)."""
    if value is None:
        return None
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # numpy or CuPy array
        return tuple(value.shape), np.dtype(value.dtype)
    return (), np.asarray(value).dtype  # a Python scalar: an optimizer's step count ...


def _describe(shape, dtype) -> str:
    return f"{tuple(shape)} {np.dtype(dtype).name}"


class _LayoutVisitor(Deserializer):
    """A deserializer that loads nothing into a model: it records the first array of ``arrays``
    that is missing or has another shape or dtype than the target's, and every name it was asked
    for. An optimizer's state not created yet (asked for as None) must be shaped like its
    parameter (``params``: name -> parameter), as the state of every Chainer update rule is."""

    def __init__(self, arrays, prefix, path, params, report):
        self.arrays, self.prefix, self.path, self.params, self.report = arrays, prefix, path, params, report

    def __getitem__(self, key):
        return _LayoutVisitor(self.arrays, self.prefix, self.path + key.strip("/") + "/", self.params, self.report)

    def __call__(self, key, value):
        name = self.path + key.lstrip("/")
        self.report["visited"].add(name)
        if name not in self.arrays:
            self.report["problem"] = self.report["problem"] or f"has no array {name}, which the model needs"
            return value
        stored = self.arrays[name]
        param = self.params.get("/" + self.path[len(self.prefix):].strip("/")) if value is None else None
        needed = _layout(value if param is None else param.array)
        if needed is not None and (tuple(stored.shape), stored.dtype) != needed and not self.report["problem"]:
            self.report["problem"] = (f"array {name} is {_describe(stored.shape, stored.dtype)}, "
                                      f"but the model needs {_describe(*needed)}")
        return stored if param is not None else value  # the update rule goes on to its next state array


def layout_problem(arrays, prefix, target) -> str:
    """What is wrong with the arrays under ``prefix`` (``"model/"`` or ``"optimizer/"``) of
    ``arrays`` (name -> numpy array, as read from a checkpoint) as the state of ``target``
    (a Chainer link or a set-up optimizer of the checkpoint's configuration); '' when they fit.

    ``target`` is not changed, except that an optimizer's per-parameter state not created yet
    becomes the stored arrays, as loading would make it.
    """
    report = {"problem": "", "visited": set()}
    link = getattr(target, "target", None)  # an optimizer's link
    params = dict(link.namedparams()) if isinstance(link, chainer.Link) else {}
    target.serialize(_LayoutVisitor(arrays, prefix, prefix, params, report))
    if report["problem"]:
        return report["problem"]
    unexpected = sorted(name for name in arrays if name.startswith(prefix) and name not in report["visited"])
    if unexpected:
        return f"holds array(s) the model does not have: {summarize_names(unexpected)}"
    return ""
