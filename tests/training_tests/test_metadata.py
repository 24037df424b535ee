"""One metadata schema for the saved simulators of every path; earlier files still read."""
import pytest

from recurrent_sim.training.metadata import saved_error, simulator_metadata
from tests.helpers import write_format1_checkpoint


def test_online_and_offline_simulators_share_the_keys():
    online = simulator_metadata("Pong-v0", 5, 0.25, "training", {"seed": 1}, steps=100)
    offline = simulator_metadata("Pong-v0", 7, 0.5, "validation", {"batch_size": 2})
    assert set(online) - {"steps"} == set(offline) == {"kind", "env_id", "updates", "error", "error_source",
                                                       "settings"}
    assert (saved_error(online), saved_error(offline)) == (0.25, 0.5)
    assert saved_error(simulator_metadata("Pong-v0", 0, None, "validation")) is None
    with pytest.raises(ValueError, match="error_source"):
        simulator_metadata("Pong-v0", 0, 1.0, "guess")


@pytest.mark.parametrize("layout, key", [("format1_original_savesim.json", "error"),
                                         ("format1_train_best.json", "validation_error")])
def test_the_error_of_format_1_files_of_both_paths_is_read(tmp_path, layout, key):
    from recurrent_sim.training import load_checkpoint

    metadata = load_checkpoint(write_format1_checkpoint(str(tmp_path / "simulator.npz"), layout)).metadata
    assert saved_error(metadata) == metadata[key] > 0
