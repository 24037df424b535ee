"""A checkpoint is loaded only when every array has the name, shape and dtype of the model its
config builds, its metadata has the types the readers use and its format version is one this
recurrent_sim reads; anything else is one CheckpointError line, never another exception."""
import json
import os

import chainer
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recurrent_sim.training import make_optimizer
from recurrent_sim.training.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    NewerFormatError,
    load_checkpoint,
    newest_loadable_checkpoint,
    numbered_checkpoint_path,
    save_checkpoint,
)
from recurrent_sim.training.metadata import RUN_KIND, saved_error, simulator_metadata
from recurrent_sim.training.run_state import RunState, options_of, settings_of
from recurrent_sim.training.savesim import same_measure
from tests.helpers import small_options, small_settings, small_simulator


def trained_simulator():
    """A tiny simulator (32x32 frames, 8 LSTM units) with a mean image and Adam state."""
    simulator = small_simulator(hidden_size=8, encoding_size=16)
    simulator.set_mean_image(np.full((3, 32, 32), 51, np.uint8))
    optimizer = make_optimizer(simulator)
    for param in simulator.params():
        param.grad = np.full_like(param.array, 1e-3)
    optimizer.update()
    return simulator, optimizer


SIMULATOR, OPTIMIZER = trained_simulator()
RUN_METADATA = {
    "kind": RUN_KIND, "env_id": "BlockWorld-v0", "updates": 1, "settings": small_settings().to_dict(),
    "options": {k: v for k, v in vars(small_options()).items() if k != "gpu"},
    "dataset": {"folders": ["/data"], "fingerprint": [[["episode_000000.npz", 20]]]},
    "state": dict(RunState(updates=1).state_dict(), sampler={"windows": 4}), "history": [{"update": 1}],
}
SIM_METADATA = simulator_metadata("BlockWorld-v0", 1, 0.25, "training", {"sequence": {}}, steps=10)


def read(path) -> dict:
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def write(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """{kind: (path, arrays)} of a numbered checkpoint with optimizer state and a simulator.npz."""
    folder = tmp_path_factory.mktemp("originals")
    numbered = save_checkpoint(folder / "checkpoint_00000001.npz", SIMULATOR, OPTIMIZER, metadata=RUN_METADATA)
    best = save_checkpoint(folder / "best", SIMULATOR, metadata=SIM_METADATA)
    return {"run": (numbered, read(numbered)), "simulator": (best, read(best))}


def use(path):
    """Everything a command does with a checkpoint it loads (CheckpointError when it must refuse)."""
    checkpoint = load_checkpoint(path)
    simulator = checkpoint.build_simulator()
    metadata = checkpoint.metadata
    saved_error(metadata)
    same_measure(metadata, "BlockWorld-v0", {})
    assert metadata.get("env_id") is None or isinstance(metadata["env_id"], str)
    if checkpoint.has_optimizer:
        checkpoint.restore_optimizer(make_optimizer(simulator))
    if metadata.get("kind") == RUN_KIND:
        settings_of(checkpoint), options_of(checkpoint, gpu=-1)
        RunState().load_state_dict(dict({"sequences_seen": 0}, **{k: v for k, v in metadata["state"].items()
                                                                 if k != "sampler"}))
    return simulator


def assert_one_line_refusal(error, path):
    assert type(error) in (CheckpointError, NewerFormatError)
    assert str(error).startswith(str(path)) and "\n" not in str(error)


# ----- each case named --------------------------------------------------------------------

def test_a_checkpoint_of_a_newer_format_is_refused_and_never_set_aside(tmp_path, originals):
    _, arrays = originals["run"]
    for number in (1, 2):
        write(numbered_checkpoint_path(tmp_path, number), arrays)
    newer = numbered_checkpoint_path(tmp_path, 2)
    write(newer, dict(arrays, format_version=np.array(FORMAT_VERSION + 1), config=np.array('{"new": "layout"}')))
    message = (f"{newer} was written by a newer recurrent_sim (checkpoint format {FORMAT_VERSION + 1}; this one reads "
               f"formats 1 to {FORMAT_VERSION}): upgrade recurrent_sim to load it")
    with pytest.raises(NewerFormatError) as caught:
        load_checkpoint(newer)
    assert str(caught.value) == message and isinstance(caught.value, CheckpointError)
    with pytest.raises(NewerFormatError):
        newest_loadable_checkpoint(tmp_path)  # no silent roll-back to checkpoint 1
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_00000001.npz", "checkpoint_00000002.npz"]


@pytest.mark.parametrize("name, change, message", [
    ("model/transition_lstm/factor_to_gates/W", lambda a: a[:, :1],
     "array model/transition_lstm/factor_to_gates/W is (32, 1) float32, but the model needs (32, 16) float32"),
    ("model/decoder/fc/b", lambda a: a.astype(np.float64),
     "array model/decoder/fc/b is (%d,) float64, but the model needs (%d,) float32"),
    ("model/mean_image_ready", lambda a: np.array([True]),
     "array model/mean_image_ready is (1,) bool, but the model needs () bool"),
    ("model/decoder/fc/W", None, "has no array model/decoder/fc/W, which the model needs"),
    ("model/decoder/extra/W", lambda a: np.zeros(3, np.float32),
     "holds array(s) the model does not have: model/decoder/extra/W"),
    ("optimizer/decoder/fc/W/m", lambda a: a[:1], "array optimizer/decoder/fc/W/m is (1, "),
    ("optimizer/decoder/fc/W/t", lambda a: a.astype(np.float64), "array optimizer/decoder/fc/W/t is () float64, "
                                                                 "but the model needs () int64"),
])
def test_arrays_that_do_not_fit_the_model_are_named(originals, tmp_path, name, change, message):
    _, arrays = originals["run"]
    arrays = dict(arrays)
    if change is None:
        del arrays[name]
    else:
        arrays[name] = change(arrays.get(name, np.zeros(1)))
    if "%d" in message:
        message = message % (arrays[name].shape[0], arrays[name].shape[0])
    path = tmp_path / "checkpoint.npz"
    write(path, arrays)
    with pytest.raises(CheckpointError) as caught:
        use(path)
    assert_one_line_refusal(caught.value, path)
    assert f"{path} does not fit the simulator its config describes: {message}" in str(caught.value)


def test_an_unknown_top_level_array_is_refused(originals, tmp_path):
    path = tmp_path / "checkpoint.npz"
    write(path, dict(originals["simulator"][1], notes=np.array("hello")))
    with pytest.raises(CheckpointError, match="not a valid recurrent_sim checkpoint: unexpected array\\(s\\) notes;"):
        load_checkpoint(path)


# ----- properties -------------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=6)
DTYPES = st.sampled_from(["float16", "float32", "float64", "int32", "int64", "uint8", "bool"])


def perturbed_array(array, data):
    """``array`` with another shape, another dtype, or both (at times the same, by chance)."""
    shape = list(array.shape)
    what = data.draw(st.sampled_from(["shape", "dtype", "rank"]))
    if what == "shape" and shape:
        axis = data.draw(st.integers(0, len(shape) - 1))
        shape[axis] = data.draw(st.integers(0, shape[axis] + 2))
    elif what == "rank":
        shape = shape[:-1] if shape and data.draw(st.booleans()) else shape + [1]
    dtype = data.draw(DTYPES) if what == "dtype" else array.dtype
    return np.resize(array, shape).astype(dtype)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_perturbed_checkpoint_is_refused_in_one_line_or_loads_as_the_original(originals, tmp_path, data):
    kind = data.draw(st.sampled_from(["run", "simulator"]))
    _, arrays = originals[kind]
    arrays = dict(arrays)
    metadata = json.loads(str(arrays["metadata"]))
    target = data.draw(st.sampled_from(["array", "array", "metadata", "state", "format_version"]))
    if target == "array":
        name = data.draw(st.sampled_from(sorted(k for k in arrays if k.startswith(("model/", "optimizer/")))))
        arrays[name] = perturbed_array(arrays[name], data)
    elif target in ("metadata", "state"):
        fields = metadata if target == "metadata" else metadata.get("state", metadata)
        key = data.draw(st.sampled_from(sorted(fields)))
        if data.draw(st.booleans()):
            del fields[key]
        else:
            fields[key] = data.draw(JSON)
        arrays["metadata"] = np.array(json.dumps(data.draw(st.sampled_from([metadata, None, [], 7])) if
                                                 data.draw(st.integers(0, 9)) == 0 else metadata))
    else:
        arrays["format_version"] = np.array(data.draw(st.one_of(st.integers(-3, 5), st.booleans(), st.floats(),
                                                               st.text(max_size=3))))
    path = tmp_path / "checkpoint.npz"
    write(path, arrays)
    try:
        simulator = use(path)
    except CheckpointError as error:
        assert_one_line_refusal(error, path)
        return
    for name, param in simulator.namedparams():  # loaded: the original weights, exactly
        np.testing.assert_array_equal(param.array, dict(SIMULATOR.namedparams())[name].array)
    assert chainer.backend.get_array_module(simulator.mean_image) is np
    np.testing.assert_array_equal(simulator.mean_image, SIMULATOR.mean_image)
