"""Finite checks of arrays, links and optimizers."""
import chainer
import numpy as np
import pytest

from recurrent_sim.training import make_optimizer
from recurrent_sim.utils.finite import (
    NonFiniteError,
    NonFiniteLoadError,
    is_finite,
    link_arrays,
    nonfinite_names,
    optimizer_arrays,
    refuse_nonfinite,
    require_finite,
)


@pytest.mark.parametrize("value, finite", [
    (np.zeros(3, np.float32), True), (np.array([1.0, np.nan]), False), (np.array([np.inf]), False),
    (np.array([-np.inf], np.float16), False), (np.arange(4), True), (np.array("text"), True),
    (np.array(True), True), (None, True), (float("nan"), False), (3, True),
])
def test_is_finite(value, finite):
    assert is_finite(value) is finite


def test_link_and_optimizer_arrays_cover_weights_persistents_and_state(tiny_simulator):
    names = dict(link_arrays(tiny_simulator, "model"))
    assert "model/mean_image" in names and "model/decoder/fc/W" in names
    assert len([n for n in names if n.endswith("/W")]) >= 10
    optimizer = make_optimizer(tiny_simulator, "adam", 1e-3)
    tiny_simulator.cleargrads()
    for param in tiny_simulator.params():
        param.grad = np.ones_like(param.array)
    optimizer.update()
    state = dict(optimizer_arrays(optimizer))
    assert "optimizer/decoder/fc/W/m" in state and "optimizer/decoder/fc/W/v" in state
    assert nonfinite_names(state) == []
    state["optimizer/decoder/fc/W/v"][0, 0] = np.nan
    assert nonfinite_names(optimizer_arrays(optimizer)) == ["optimizer/decoder/fc/W/v"]


def test_require_finite_names_the_arrays_and_the_cause():
    arrays = {f"w{i}": np.full(2, np.nan) for i in range(5)}
    arrays["ok"] = np.zeros(2)
    with pytest.raises(NonFiniteError) as error:
        require_finite(arrays, "simulator runs/x.npz", "try a lower --lr")
    assert str(error.value) == ("simulator runs/x.npz not saved: w0, w1, w2 and 2 more hold NaN or infinite values; "
                                "try a lower --lr")
    require_finite({"ok": np.zeros(2)}, "x")


def test_refuse_nonfinite_on_load():
    with pytest.raises(NonFiniteLoadError, match=r"^f.npz holds NaN or infinite values \(b\); it is damaged"):
        refuse_nonfinite({"a": np.zeros(1), "b": np.array([np.inf])}, "f.npz")
    with pytest.raises(KeyError):
        refuse_nonfinite({"b": np.array([np.nan])}, "f.npz", KeyError)


def test_cupy_arrays_are_checked_on_their_device():
    if not chainer.backends.cuda.available:
        pytest.skip("needs CuPy and a CUDA device")
    import cupy

    assert not is_finite(cupy.array([1.0, cupy.nan])) and is_finite(cupy.zeros(3))
