import os
import stat

import numpy as np
import pytest

from recurrent_sim.utils.errors import UserError
from recurrent_sim.models import Simulator, SimulatorConfig
from recurrent_sim.utils.files import remove_stale_temporaries
from recurrent_sim.training.checkpoint import (
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
    newest_loadable_checkpoint,
    numbered_checkpoint_path,
    prune_checkpoints,
    save_checkpoint,
)
from recurrent_sim.training.sequence_loss import SequenceSchedule
from tests.helpers import dead_pid
from recurrent_sim.commands.validation import (
    check_buffer_size,
    check_savesim_folder,
    load_simulator,
    prepare_output_folder,
)

CONFIG = SimulatorConfig(frame_shape=(32, 32), n_actions=5, hidden_size=8, encoding_size=16)


@pytest.fixture(scope="module")
def simulator():
    np.random.seed(0)
    sim = Simulator(CONFIG)
    sim.set_mean_image(np.full((3, 32, 32), 51, np.uint8))
    return sim


def test_numbered_checkpoints_are_listed_pruned_and_temporaries_removed(tmp_path, simulator):
    for number in (3, 12, 7):
        save_checkpoint(numbered_checkpoint_path(tmp_path, number), simulator, metadata={"n": number})
    left = tmp_path / f".checkpoint_00000015.npz.{dead_pid()}.x1.tmp"  # of a killed writer
    left.write_bytes(b"half")
    (tmp_path / "checkpoint_00000099.npz.damaged").write_bytes(b"old")
    (tmp_path / "checkpoint_best.npz").write_bytes(b"not numbered")
    assert [n for n, _ in list_checkpoints(tmp_path)] == [3, 7, 12]
    assert list_checkpoints(tmp_path / "missing") == []
    assert remove_stale_temporaries(tmp_path) == [str(left)]
    assert prune_checkpoints(tmp_path, keep=2) == [numbered_checkpoint_path(tmp_path, 3)]
    assert [n for n, _ in list_checkpoints(tmp_path)] == [7, 12]
    assert (tmp_path / "checkpoint_00000099.npz.damaged").exists()
    mode = stat.S_IMODE(os.stat(numbered_checkpoint_path(tmp_path, 12)).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # not mkstemp's 0600


def test_newest_loadable_skips_and_sets_aside_damaged_checkpoints(tmp_path, simulator):
    for number in (1, 2, 3):
        save_checkpoint(numbered_checkpoint_path(tmp_path, number), simulator, metadata={"n": number})
    newest = numbered_checkpoint_path(tmp_path, 3)
    data = open(newest, "rb").read()
    open(newest, "wb").write(data[: len(data) // 3])
    checkpoint = newest_loadable_checkpoint(tmp_path)
    assert checkpoint.metadata == {"n": 2}
    assert os.path.exists(newest + ".damaged") and not os.path.exists(newest)
    for _, path in list_checkpoints(tmp_path):
        open(path, "wb").write(b"garbage")
    assert newest_loadable_checkpoint(tmp_path) is None
    assert len(os.listdir(tmp_path)) == 3  # nothing deleted


def test_every_truncation_or_corruption_is_a_checkpoint_error(tmp_path, simulator):
    path = str(tmp_path / "c.npz")
    save_checkpoint(path, simulator, metadata={"a": 1})
    data = open(path, "rb").read()
    rng = np.random.default_rng(0)
    damaged = [data[:cut] for cut in np.linspace(0, len(data) - 1, 30).astype(int)]
    for position in rng.integers(0, len(data), 30):
        flipped = bytearray(data)
        flipped[position] ^= 0xFF
        damaged.append(bytes(flipped))
    errors = 0
    for content in damaged:
        open(path, "wb").write(content)
        try:
            load_checkpoint(path).build_simulator()
        except CheckpointError as e:
            errors += 1
            assert "\n" not in str(e)
    assert errors >= 30  # all truncations; a flipped byte inside stored float data may still load


class _Marker:
    """Unpickling this object would create a file: proof that code ran."""

    path = None

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickled_checkpoint_is_refused_without_running_it(tmp_path, simulator):
    path = save_checkpoint(tmp_path / "c.npz", simulator)
    with np.load(path) as npz:
        arrays = dict(npz)
    _Marker.path = str(tmp_path / "pickle-ran")
    arrays["model/mean_image"] = np.array([_Marker()], dtype=object)
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="truncated or corrupted .*Object arrays cannot be loaded"):
        load_simulator(path)
    assert not (tmp_path / "pickle-ran").exists()


def test_simulator_checkpoint_check_names_the_mismatch(tmp_path, simulator):
    save_checkpoint(tmp_path, simulator)
    assert load_simulator(tmp_path, frame_shape=(32, 32), n_actions=5)[0].config == CONFIG
    with pytest.raises(CheckpointError, match=r"--loadtosim .*frames 32x32, 5 actions.* this game needs 84x84 frames"):
        load_simulator(tmp_path, frame_shape=(84, 84), n_actions=5)
    mismatch = r"the simulator has frames 32x32, 5 actions.*needs 32x32 frames and 4 actions"
    with pytest.raises(CheckpointError, match=mismatch):
        load_simulator(tmp_path, frame_shape=(32, 32), n_actions=4)
    with pytest.raises(CheckpointError, match=r"^--load: checkpoint .*nothing.npz does not exist$"):
        load_simulator(tmp_path / "nothing.npz", flag="--load")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"^--loadtosim: no simulator.npz in folder"):
        load_simulator(tmp_path / "empty")


def test_output_folders(tmp_path, simulator):
    assert prepare_output_folder(tmp_path / "a" / "b") == str(tmp_path / "a" / "b")
    assert os.path.isdir(tmp_path / "a" / "b")
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError, match=r"--savesim .*f is a file; give a folder"):
        prepare_output_folder(tmp_path / "f", "--savesim")
    with pytest.raises(UserError, match="cannot write there"):
        prepare_output_folder(tmp_path / "f" / "sub")

    save_checkpoint(tmp_path / "run", simulator)
    assert check_savesim_folder(tmp_path / "run", CONFIG) == str(tmp_path / "run")
    other = SimulatorConfig(frame_shape=(32, 32), n_actions=5, hidden_size=16, encoding_size=16)
    before = open(tmp_path / "run" / "simulator.npz", "rb").read()
    held = r"already holds a simulator with frames 32x32, 5 actions, LSTM 8.*choose another folder"
    with pytest.raises(UserError, match=held):
        check_savesim_folder(tmp_path / "run", other)
    assert open(tmp_path / "run" / "simulator.npz", "rb").read() == before
    (tmp_path / "run" / "simulator.npz").write_bytes(b"damaged")
    assert check_savesim_folder(tmp_path / "run", other)  # nothing worth protecting


def test_buffer_must_hold_one_sequence():
    sequence = SequenceSchedule(15, 10, 10)
    assert check_buffer_size(36, sequence) == 36
    with pytest.raises(UserError, match=r"^--buffer_size_sim 35 is too small: .* = 36 consecutive frames; raise"):
        check_buffer_size(35, sequence)


@pytest.mark.parametrize("layout", ["format1_original_savesim.json", "format1_train_best.json",
                                    "format1_train_checkpoint.json"])
def test_format_1_checkpoints_load_as_the_papers_network(tmp_path, layout):
    from recurrent_sim.training import make_optimizer
    from tests.helpers import write_format1_checkpoint

    path = write_format1_checkpoint(str(tmp_path / "simulator.npz"), layout)
    checkpoint = load_checkpoint(path)
    config = checkpoint.config
    assert config.architecture == "paper" and config.conv_channels == (64, 32, 32, 32)
    assert (config.conv_kernels, config.conv_pads, config.conv_strides) == ((8, 6, 6, 4), (3, 2, 2, 1), (2, 2, 2, 2))
    assert (config.frame_shape, config.n_actions, config.hidden_size) == ((32, 32), 5, 8)
    simulator = checkpoint.build_simulator()
    assert type(simulator) is Simulator and simulator.has_mean_image
    for name, param in simulator.namedparams():
        np.testing.assert_array_equal(param.array, checkpoint.arrays["model" + name])
    if checkpoint.has_optimizer:
        checkpoint.restore_optimizer(make_optimizer(simulator))
    # saved again, it is a current-format file of the same network
    again = load_checkpoint(save_checkpoint(tmp_path / "again", simulator, metadata=checkpoint.metadata))
    assert int(again.arrays["format_version"]) == 2 and again.config == config


def test_a_checkpoint_of_an_unregistered_architecture_names_it(tmp_path):
    import json

    path = save_checkpoint(tmp_path / "sim", Simulator(CONFIG))
    arrays = dict(np.load(path))
    arrays["config"] = np.array(json.dumps(dict(CONFIG.to_dict(), architecture="nowhere")))
    np.savez(path, **arrays)
    checkpoint = load_checkpoint(path)
    with pytest.raises(CheckpointError, match="unknown simulator architecture 'nowhere'; registered: .*paper"):
        checkpoint.build_simulator()
