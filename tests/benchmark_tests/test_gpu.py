"""The GPU path: same loss as the CPU, and the benchmark on CUDA (needs CuPy)."""
import pytest

from recurrent_sim.cli import main

cupy = pytest.importorskip("cupy")


def cuda_device_count():
    try:
        return cupy.cuda.runtime.getDeviceCount()
    except Exception:
        return 0


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(cuda_device_count() == 0, reason="no CUDA device"),
]


def test_sequence_loss_on_gpu_equals_cpu():
    import chainer

    from recurrent_sim.training import SequenceSchedule, sequence_loss
    from tests.training_tests.test_reference_loss import make_batch, make_simulator

    schedule = SequenceSchedule(2, 2, 2)
    simulator = make_simulator(frame_size=32)
    frames, actions = make_batch(schedule)
    expected = sequence_loss(simulator, frames, actions, schedule)
    simulator.to_device(chainer.get_device("@cupy:0"))
    got = sequence_loss(simulator, cupy.asarray(frames), cupy.asarray(actions), schedule)
    assert isinstance(got.loss.array, cupy.ndarray)
    assert float(got.loss.array) == pytest.approx(float(expected.loss.array), rel=1e-4)


def test_bench_on_gpu(tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--gpu", "0", "--env", "BlockWorld-v0", "--frame-size", "32",
                 "--out", str(out)]) == 0
    assert '"device": "cuda:0"' in out.read_text()


def test_independent_simulator_steps_on_gpu_as_on_cpu():
    import chainer
    import numpy as np

    from recurrent_sim.envs.rollout_batch import RolloutBatch
    from recurrent_sim.models import SimulatorConfig, build_simulator

    np.random.seed(0)
    sim = build_simulator(SimulatorConfig(architecture="independent", frame_shape=(32, 32), n_actions=3,
                                          hidden_size=8, encoding_size=16))
    rng = np.random.RandomState(1)
    sim.set_mean_image(rng.randint(0, 256, (4, 32, 32)).astype(np.uint8))
    frames = rng.randint(0, 256, (4, 3, 32, 32)).astype(np.uint8)
    actions = rng.randint(0, 3, (4, 2)).astype(np.int32)
    steps = rng.randint(0, 3, (4, 5)).astype(np.int32)
    results = []
    for device in (None, "@cupy:0"):
        if device:
            sim.to_device(chainer.get_device(device))
        env = RolloutBatch(sim)
        env.reset(frames, actions)
        env.advance(steps)
        results.append(env.decode())
    assert np.abs(results[0].astype(int) - results[1].astype(int)).max() <= 1
