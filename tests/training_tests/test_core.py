"""The training core: its non-finite rule, its best rule, its writer, and that both command lines train with it."""
import math

import numpy as np
import pytest

from recurrent_sim.models import Simulator, SimulatorConfig
from recurrent_sim.training import SequenceSchedule, UpdateStep, load_checkpoint, make_optimizer
from recurrent_sim.training.core import TrainingCore
from recurrent_sim.training.losses import DEFAULT_LOSS, get_loss
from recurrent_sim.training.update_step import StepOutcome
from recurrent_sim.utils.finite import NonFiniteError
from tests.examples_tests.test_train_a3c_gym import BLOCKWORLD_TRAIN
from tests.helpers import SMALL_TRAIN_FLAGS, load_original_script, run_original_script


class ScriptedStep:
    """Stands in for UpdateStep: returns the outcomes it is given, in turn."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)

    def __call__(self, batch):
        return self.outcomes.pop(0)

    def parameters_finite(self):
        return True


APPLIED = StepOutcome(True, {"error": 0.5})
SKIPPED = StepOutcome(False, {"error": math.nan}, "loss is nan")


def make_core(step, max_nonfinite=3):
    return TrainingCore(None, None, step, ("error",), None, max_nonfinite)


def test_skipped_batches_stop_training_after_max_nonfinite_in_a_row():
    core = make_core(ScriptedStep(SKIPPED, SKIPPED, APPLIED, SKIPPED, SKIPPED, SKIPPED))
    assert [core.train(None) for _ in range(5)] == ["", "", "", "", ""]
    assert core.train(None) == "3 batches in a row had a non-finite loss or gradient"
    assert (core.state.updates, core.state.skipped, core.state.consecutive_skipped) == (1, 5, 3)
    assert core.metrics == {"error": 0.5}


def test_max_nonfinite_1_stops_at_the_first_and_says_where():
    core = make_core(ScriptedStep(APPLIED, SKIPPED), max_nonfinite=1)
    assert core.train(None) == "" and core.train(None) == "loss is nan at update 2"
    with pytest.raises(ValueError, match="max_nonfinite"):
        make_core(ScriptedStep(), max_nonfinite=0)


def test_damaged_parameters_stop_training_and_are_never_written(tmp_path):
    core = make_core(ScriptedStep(StepOutcome(True, {"error": 0.1}, "parameters are not finite", True)))
    assert core.train(None) == "update 1 made the parameters non-finite" and core.parameters_damaged
    with pytest.raises(NonFiniteError):
        core.write(tmp_path / "sim", {})
    assert not (tmp_path / "sim").exists()


def test_the_best_is_the_lowest_finite_validation_error():
    core, saved = make_core(ScriptedStep()), []
    for error in (0.3, math.nan, 0.4, 0.2, math.inf, 0.2):
        core.keep_if_best(error, lambda: saved.append(error))
    assert saved == [0.3, 0.2] and core.best_error == 0.2 == core.state.best_validation_error


def test_validation_averages_each_metric_over_the_sequences():
    simulator = Simulator(SimulatorConfig(frame_shape=(32, 32), n_actions=3, hidden_size=8, encoding_size=16))
    loss = get_loss(DEFAULT_LOSS)
    function = loss.function(SequenceSchedule(1, 1, 1).plan())
    core = TrainingCore(simulator, make_optimizer(simulator), UpdateStep(simulator, None, function),
                        loss.metric_names, function)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 4, 32, 32), dtype=np.uint8)  # 3 sequences of 1 + 1 + 1 + 1 frames
    simulator.set_mean_image(frames[0])
    from recurrent_sim.data import SequenceBatch
    batches = [SequenceBatch(frames[i:i + n], np.zeros((n, 3), np.int32), np.zeros((n, 3), np.float32),
                             np.zeros(n, np.int64)) for i, n in ((0, 2), (2, 1))]
    each = [function(simulator, batch)[1]["error"] for batch in batches]
    assert core.validate(batches)["validation_error"] == pytest.approx((2 * each[0] + each[1]) / 3, rel=1e-6)
    assert math.isnan(core.validate([])["validation_error"])


@pytest.fixture
def spied(monkeypatch):
    """Every TrainingCore that trains, with the updates it made: {id: (core, calls)}."""
    seen = {}
    train = TrainingCore.train

    def spy(self, batch):
        seen.setdefault(id(self), [self, 0])[1] += 1
        return train(self, batch)

    monkeypatch.setattr(TrainingCore, "train", spy)
    return seen


def test_both_command_lines_train_through_the_training_core(tmp_path, spied, cli, dataset, capsys):
    code, out, err = cli("train", dataset, "--out", tmp_path / "run", *SMALL_TRAIN_FLAGS, "--updates", 3)
    assert code == 0, err
    [(offline, calls)] = spied.values()
    assert calls == offline.state.updates == 3
    assert load_checkpoint(tmp_path / "run").metadata["error"] == offline.best_error
    spied.clear()

    status, out, err = run_original_script(load_original_script(), capsys, *BLOCKWORLD_TRAIN,
                                           "--savesim", tmp_path / "sim", "--outdir", tmp_path / "out")
    assert status == 0, err
    [(online, calls)] = spied.values()
    assert calls == online.state.updates > 0 and online is not offline
    saved = load_checkpoint(tmp_path / "sim").metadata  # the second of its two episodes was held out
    assert saved["error_source"] == "validation" and saved["error"] == online.best_error
