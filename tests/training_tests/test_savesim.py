"""A --savesim folder holding a simulator of another run is replaced only by a better one on the
same measure, or with overwrite; anything else is refused in one line."""
import dataclasses
import math

import pytest

from recurrent_sim.models import Simulator, SimulatorConfig
from recurrent_sim.training import SequenceSchedule, save_checkpoint
from recurrent_sim.training.metadata import simulator_metadata
from recurrent_sim.training.savesim import not_saved_message, plan_savesim
from recurrent_sim.utils.errors import UserError

CONFIG = SimulatorConfig((32, 32), 5, 8, encoding_size=16)
SEQUENCE = dataclasses.asdict(SequenceSchedule(3, 2, 2))


@pytest.fixture
def held(tmp_path):
    """A folder holding a simulator of another run: BlockWorld, error 0.02, sequence 3/2/2."""
    save_checkpoint(tmp_path / "sim", Simulator(CONFIG),
                    metadata=simulator_metadata("BlockWorld-v0", 10, 0.02, "training", {"sequence": SEQUENCE}))
    return tmp_path / "sim"


def test_empty_folder_saves_freely(tmp_path):
    plan = plan_savesim(tmp_path / "sim", CONFIG, "BlockWorld-v0", SEQUENCE)
    assert (plan.error_to_beat, plan.protected, plan.message, plan.outcome()) == (math.inf, False, "", "")
    assert plan.path == str(tmp_path / "sim" / "simulator.npz")


def test_same_measure_is_replaced_only_by_a_better_one(held):
    plan = plan_savesim(held, CONFIG, "BlockWorld-v0", SEQUENCE)
    assert plan.protected and plan.error_to_beat == 0.02
    assert "holds a simulator of another run with error 0.02 on the same measure" in plan.message
    assert plan.outcome() == "it replaced the simulator of error 0.02 that was there, as it is better"
    assert not_saved_message(plan, 0.03) == (
        f"simulator not saved: its error 0.03 is not better than the 0.02 of the simulator kept in {plan.path} "
        "(give --overwrite to replace it anyway)")


def test_continued_simulator_is_protected_too(held):
    plan = plan_savesim(held, CONFIG, "Other-v0", {}, loadtosim=str(held / "simulator.npz"))
    assert plan.protected and plan.error_to_beat == 0.02 and "this run continues" in plan.message


@pytest.mark.parametrize("config, env_id, sequence, why", [
    (SimulatorConfig((32, 32), 5, 16, encoding_size=16), "BlockWorld-v0", SEQUENCE, "LSTM 8, .* LSTM 16"),
    (CONFIG, "Breakout-v0", SEQUENCE, "measured on another game or sequence split"),
    (CONFIG, "BlockWorld-v0", dataclasses.asdict(SequenceSchedule(4, 2, 2)), "measured on another game"),
])
def test_other_runs_are_refused_unless_overwrite(held, config, env_id, sequence, why):
    with pytest.raises(UserError, match=rf"^--savesim {held} already holds a simulator of another run .*{why}.*: "
                                        rf"choose another folder, --loadtosim {held} to continue it, or --overwrite"):
        plan_savesim(held, config, env_id, sequence)
    plan = plan_savesim(held, config, env_id, sequence, overwrite=True)
    assert not plan.protected and plan.error_to_beat == math.inf and plan.message.startswith("--overwrite:")
    assert plan.outcome() == "it replaced the file that was there"


def test_a_file_of_the_earlier_metadata_schema_is_compared_too(tmp_path):
    save_checkpoint(tmp_path / "sim", Simulator(CONFIG),
                    metadata={"env_id": "BlockWorld-v0", "error": 0.03, "sequence": SEQUENCE})
    assert plan_savesim(tmp_path / "sim", CONFIG, "BlockWorld-v0", SEQUENCE).error_to_beat == 0.03


def test_an_offline_simulator_is_another_measure(tmp_path):
    save_checkpoint(tmp_path / "sim", Simulator(CONFIG), metadata={"env_id": "BlockWorld-v0", "validation_error": 0.1})
    with pytest.raises(UserError, match="measured on another game or sequence split"):
        plan_savesim(tmp_path / "sim", CONFIG, "BlockWorld-v0", SEQUENCE)


def test_damaged_file_is_replaced_with_a_warning(tmp_path, caplog):
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "simulator.npz").write_bytes(b"not a zip")
    plan = plan_savesim(tmp_path / "sim", CONFIG, "BlockWorld-v0", SEQUENCE)
    assert not plan.protected and "it will be replaced" in plan.message and "truncated or corrupted" in caplog.text
