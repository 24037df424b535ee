"""Parameter gradients deferred to the end of a backward pass: same values, computed at the block's end."""
import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
import pytest

from recurrent_sim.models import SimulatorConfig, build_simulator, deferred_gradients, fast_conv
from recurrent_sim.models.deferred_gradients import deferred_parameter_gradients
from recurrent_sim.models.split_linear import LinearParameterGradients, split_linear
from recurrent_sim.training.losses import DEFAULT_LOSS, REFERENCE_LOSS, get_loss
from recurrent_sim.training.sequence_loss import SequenceSchedule
from recurrent_sim.training.update_step import UpdateStep
from recurrent_sim.data import SequenceBatch

SCHEDULE = SequenceSchedule(2, 3, 3)


def _simulator(architecture):
    np.random.seed(3)
    config = SimulatorConfig(frame_shape=(24, 24), n_actions=3, hidden_size=12, encoding_size=10,
                             architecture=architecture, conv_channels=(6, 5), conv_kernels=(4, 3),
                             conv_pads=(1, 1), conv_strides=(2, 2))
    return build_simulator(config)


def _batch(seed=0):
    rng = np.random.RandomState(seed)
    frames = rng.randint(0, 256, (3, SCHEDULE.sequence_length, 24, 24)).astype(np.uint8)
    return SequenceBatch(frames, rng.randint(0, 3, (3, SCHEDULE.sequence_length - 1)).astype(np.int32), None, None)


def _gradients(simulator, loss_name, deferred, workers, monkeypatch, fast=True):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", str(workers))
    simulator.cleargrads()
    with chainer.using_config(fast_conv.CONFIG_KEY, fast):
        loss, _ = get_loss(loss_name).function(SCHEDULE)(simulator, _batch())
        with deferred_parameter_gradients(deferred):
            loss.backward()
            inside = {name: param.grad is None for name, param in simulator.namedparams()}
    return {name: param.grad.copy() for name, param in simulator.namedparams()}, inside


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("architecture", ["paper", "skip"])
def test_deferred_gradients_match_chainers_and_the_reference(architecture, workers, monkeypatch):
    simulator = _simulator(architecture)
    deferred, inside = _gradients(simulator, DEFAULT_LOSS, True, workers, monkeypatch)
    plain, inside_plain = _gradients(simulator, DEFAULT_LOSS, False, workers, monkeypatch)
    reference, _ = _gradients(simulator, REFERENCE_LOSS, False, workers, monkeypatch, fast=False)
    assert deferred.keys() == plain.keys() == reference.keys()
    for name in plain:
        np.testing.assert_allclose(deferred[name], plain[name], rtol=1e-5, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(deferred[name], reference[name], rtol=1e-3, atol=1e-6, err_msg=name)
    # Inside the block the layers' parameters had no gradient yet: it came at the block's end.
    layer_params = [name for name in inside if "conv" in name or "fc" in name or "gates" in name]
    assert layer_params and all(inside[name] for name in layer_params)
    assert not any(inside_plain.values())


def test_records_holding_too_much_are_computed_early(monkeypatch):
    computed = []
    compute = deferred_gradients.compute

    def counted(records, sums):
        computed.append(len(records))
        return compute(records, sums)

    monkeypatch.setattr(deferred_gradients, "compute", counted)
    simulator = _simulator("paper")
    monkeypatch.setattr(deferred_gradients, "HELD_BYTES", 10**9)
    at_end, _ = _gradients(simulator, DEFAULT_LOSS, True, 2, monkeypatch)
    assert len(computed) == 1 and computed[0] > 1
    computed.clear()
    monkeypatch.setattr(deferred_gradients, "HELD_BYTES", 0)  # every record at once
    early, _ = _gradients(simulator, DEFAULT_LOSS, True, 2, monkeypatch)
    assert len(computed) > 1 and set(computed) == {1}
    for name in at_end:
        np.testing.assert_allclose(early[name], at_end[name], rtol=1e-5, atol=1e-7, err_msg=name)


def test_early_computations_leave_the_records_that_merge_for_the_end(monkeypatch):
    computed = []
    monkeypatch.setattr(deferred_gradients, "compute", lambda records, sums: computed.append(records))
    monkeypatch.setattr(deferred_gradients, "HELD_BYTES", 100)
    block = deferred_gradients._Block()
    records = []
    for nbytes, key in ((10, "fc"), (60, None), (10, "fc"), (60, None), (90, "fc")):
        record = deferred_gradients.DeferredGradient()
        record.nbytes, record.merge_key = nbytes, key
        records.append(record)
        block.add(record)
    # 140 bytes held at the fourth record: the two convolution-like records go, the small ones stay;
    # at the fifth, the ones that merge hold 110 bytes by themselves and go too.
    assert computed == [[records[1], records[3]], [records[0], records[2], records[4]]]
    block.flush()
    assert len(computed) == 2 and block.records == [] and block.held == 0


def test_one_layer_applied_at_many_steps_becomes_one_product():
    link = L.Linear(4, 3)
    rng = np.random.RandomState(0)
    xs = [rng.randn(n, 4).astype(np.float32) for n in (2, 5)]
    gys = [rng.randn(n, 3).astype(np.float32) for n in (2, 5)]
    records = [LinearParameterGradients(x, gy, {1: link.W, 2: link.b}, parts=2) for x, gy in zip(xs, gys)]
    merged = deferred_gradients._merged(records)
    assert len(merged) == 1 and merged[0].x.shape == (7, 4)
    sums = deferred_gradients.compute(records)
    np.testing.assert_allclose(sums[id(link.W)][1], sum(gy.T @ x for x, gy in zip(xs, gys)), rtol=1e-5)
    np.testing.assert_allclose(sums[id(link.b)][1], sum(gy.sum(axis=0) for gy in gys), rtol=1e-5)


def test_only_leaf_parameters_are_deferred():
    link = L.Linear(4, 3)
    x = np.random.RandomState(1).randn(5, 4).astype(np.float32)
    scaled = L.Linear(4, 3)
    scaled.W.array[...] = link.W.array / 2
    link.cleargrads()
    scaled.cleargrads()
    with deferred_parameter_gradients():
        weight = scaled.W * 2  # computed from a parameter: its gradient goes through Chainer
        y = F.sum(split_linear(link, x)) + F.sum(F.linear(x, weight, scaled.b))
        y.backward()
        assert link.W.grad is None and scaled.W.grad is not None
    np.testing.assert_allclose(link.W.grad, scaled.W.grad / 2, rtol=1e-5)


def test_double_backprop_and_nested_blocks_leave_gradients_to_chainer():
    link = L.Linear(4, 3)
    x = np.random.RandomState(2).randn(5, 4).astype(np.float32)
    link.cleargrads()
    with deferred_parameter_gradients():
        with deferred_parameter_gradients():  # the inner block changes nothing
            F.sum(split_linear(link, x) ** 2).backward(enable_double_backprop=True)
        assert link.W.grad is not None  # a graph of the gradient was wanted: not deferred
    first = link.W.grad.copy()
    link.cleargrads()
    with deferred_parameter_gradients():
        F.sum(split_linear(link, x) ** 2).backward()
    np.testing.assert_allclose(link.W.grad, first, rtol=1e-5)


def test_an_error_in_the_block_leaves_no_block_behind():
    link = L.Linear(4, 3)
    x = np.random.RandomState(3).randn(5, 4).astype(np.float32)
    link.cleargrads()
    with pytest.raises(RuntimeError):
        with deferred_parameter_gradients():
            F.sum(split_linear(link, x)).backward()
            raise RuntimeError("stopped")
    assert link.W.grad is None  # what was recorded is dropped
    F.sum(split_linear(link, x)).backward()  # no block: Chainer's own gradients at once
    np.testing.assert_allclose(link.W.grad, np.tile(x.sum(axis=0), (3, 1)), rtol=1e-5)


def test_update_step_gives_the_reference_update(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    before = {name: param.array.copy() for name, param in _simulator("paper").namedparams()}
    results = []
    for loss_name, fast in ((DEFAULT_LOSS, True), (REFERENCE_LOSS, False)):
        simulator = _simulator("paper")
        optimizer = chainer.optimizers.SGD(lr=0.1)
        optimizer.setup(simulator)
        step = UpdateStep(simulator, optimizer, get_loss(loss_name).function(SCHEDULE))
        with chainer.using_config(fast_conv.CONFIG_KEY, fast):
            assert step(_batch()).applied
        results.append({name: param.array.copy() for name, param in simulator.namedparams()})
    for name, value in results[0].items():
        assert not np.array_equal(value, before[name]), name
        np.testing.assert_allclose(value, results[1][name], rtol=1e-4, atol=1e-6, err_msg=name)
