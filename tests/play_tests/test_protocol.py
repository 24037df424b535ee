"""The play page's messages: parsing refuses everything malformed with a ProtocolError, frames round-trip."""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recurrent_sim.play.protocol import (
    MAX_MESSAGE_CHARS,
    Command,
    ProtocolError,
    decode_frame,
    encode_frame,
    parse_command,
    to_json,
)

N_ACTIONS, LAST_STEP = 5, 30


def parse(message):
    text = message if isinstance(message, str) else json.dumps(message)
    return parse_command(text, N_ACTIONS, LAST_STEP)


@pytest.mark.parametrize("message, expected", [
    ({"type": "action", "action": 3}, Command("action", 3)),
    ({"type": "step"}, Command("step", None)),
    ({"type": "step", "action": 0}, Command("step", 0)),
    ({"type": "branch", "step": 0}, Command("branch", 0)),
    ({"type": "branch", "step": LAST_STEP}, Command("branch", LAST_STEP)),
    ({"type": "agent", "on": True}, Command("agent", True)),
    ({"type": "pause", "extra": 1}, Command("pause", None)),
    ({"type": "resume"}, Command("resume", None)),
    ({"type": "reset"}, Command("reset", None)),
    ({"type": "save_gif"}, Command("save_gif", None)),
])
def test_good_commands(message, expected):
    assert parse(message) == expected


@pytest.mark.parametrize("message, words", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ("42", "JSON object"),
    ({"action": 1}, "unknown message type None"),
    ({"type": "explode"}, "unknown message type 'explode'"),
    ({"type": "action", "action": N_ACTIONS}, "action 5 is out of range: 0 to 4"),
    ({"type": "action", "action": -1}, "out of range"),
    ({"type": "action", "action": 1.5}, "must be an integer"),
    ({"type": "action", "action": "1"}, "must be an integer"),
    ({"type": "action", "action": True}, "must be an integer"),
    ({"type": "action"}, "must be an integer, got None"),
    ({"type": "step", "action": 99}, "out of range"),
    ({"type": "branch", "step": LAST_STEP + 1}, "branch step 31 is out of range: 0 to 30"),
    ({"type": "branch"}, "must be an integer"),
    ({"type": "agent", "on": "yes"}, "true or false"),
    ("x" * (MAX_MESSAGE_CHARS + 1), "longer than"),
    ("[" * 2000, "nested too deeply"),
    ('{"type": "step", "action": ' + "[" * 1500 + "]" * 1500 + "}", "nested too deeply"),
    ('{"type": "step", "action": ' + "[" * 900 + "]" * 900 + "}", r"must be an integer, got \[\[\[\.\.\.\]\]\]$"),
    ('{"type": "' + "y" * 3000 + '"}', r"unknown message type 'y{12}\.\.\.y{13}'; known"),
])
def test_bad_commands_say_what_is_wrong(message, words):
    with pytest.raises(ProtocolError, match=words):
        parse(message)


def test_binary_is_refused():
    with pytest.raises(ProtocolError, match="JSON text"):
        parse_command(b'{"type": "pause"}', N_ACTIONS, LAST_STEP)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(max_size=200), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(
        ["type", "action", "step", "on"]) | st.text(max_size=5), children, max_size=4),
    max_leaves=8).map(lambda v: json.dumps(v))))
def test_any_text_is_a_command_or_a_protocol_error(text):
    try:
        command = parse_command(text, N_ACTIONS, LAST_STEP)
    except ProtocolError:
        return
    if command.type in ("action",) or (command.type == "step" and command.value is not None):
        assert 0 <= command.value < N_ACTIONS
    if command.type == "branch":
        assert 0 <= command.value <= LAST_STEP


def test_frames_round_trip():
    frame = np.random.default_rng(0).integers(0, 256, (7, 5)).astype(np.uint8)
    assert np.array_equal(decode_frame(encode_frame(frame), (7, 5)), frame)


def test_json_has_no_nan():
    assert json.loads(to_json({"type": "frame", "drift": float("nan"), "divergence": 0.5})) == {
        "type": "frame", "drift": None, "divergence": 0.5}
