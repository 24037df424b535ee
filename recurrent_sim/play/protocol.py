"""The messages between the play page and the server: JSON text over one websocket.

The page sends commands, one JSON object each, with a ``type``:

* ``{"type": "action", "action": k}``: the action held from now on (the
  page sends it on key press and release; ``0`` is the game's no-op);
* ``{"type": "pause"}`` / ``{"type": "resume"}``;
* ``{"type": "step", "action": k}``: one step while paused (``action``
  optional: the held action);
* ``{"type": "branch", "step": t}``: rewind the real game to its step ``t``
  (0 = the episode's first frame) and restart the simulator there;
* ``{"type": "agent", "on": true|false}``: let the agent choose the actions;
* ``{"type": "reset"}``: a new episode;
* ``{"type": "save_gif"}``: write the session so far as an animated GIF.

The server answers with ``hello`` (once: action names, frame size, speed),
``frame`` (after every step, branch and reset: both frames, the divergence
and drift, the history length), ``saved`` (the GIF's path) and ``error``
(a bad command, answered and otherwise ignored). Frames travel as base64 of
their raw (height, width) uint8 gray pixels, row by row.
"""
import base64
import json
import reprlib
from typing import NamedTuple, Optional

import numpy as np

#: Command types the page may send.
COMMANDS = ("action", "pause", "resume", "step", "branch", "agent", "reset", "save_gif")
#: Longest message read, characters; longer ones are refused unread.
MAX_MESSAGE_CHARS = 4096

_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 2, 30, 30


class ProtocolError(ValueError):
    """A message the server cannot act on; its text goes back to the page."""


class Command(NamedTuple):
    """One parsed command: ``type`` from :data:`COMMANDS`, ``value`` its argument
    (the action for ``action``/``step``, the step for ``branch``, a bool for ``agent``)."""

    type: str
    value: Optional[object] = None


def _short(value) -> str:
    """A repr of ``value`` from the page, at most a few dozen characters, however deep it is."""
    return _SHORT.repr(value)


def _integer(message, key, low, high, what):
    value = message.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"{what} must be an integer, got {_short(value)}")
    if not low <= value <= high:
        raise ProtocolError(f"{what} {value} is out of range: {low} to {high}")
    return value


def parse_command(text, n_actions, last_step) -> Command:
    """Parse and check one message from the page.

    Args:
        text: the websocket message (str).
        n_actions: number of actions of the game (valid actions are 0..n-1).
        last_step: the newest step of the recorded real game (branch targets
            are 0..last_step).
    Raises:
        ProtocolError: longer than :data:`MAX_MESSAGE_CHARS`, not JSON, nested
            too deeply to parse, not an object, unknown type, or a bad argument.
    """
    if not isinstance(text, str):
        raise ProtocolError("messages must be JSON text")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ProtocolError(f"message longer than {MAX_MESSAGE_CHARS} characters")
    try:
        message = json.loads(text)
    except ValueError:
        raise ProtocolError("message is not valid JSON") from None
    except RecursionError:
        raise ProtocolError("message is nested too deeply") from None
    if not isinstance(message, dict):
        raise ProtocolError("message must be a JSON object with a 'type'")
    kind = message.get("type")
    if kind not in COMMANDS:
        raise ProtocolError(f"unknown message type {_short(kind)}; known: {', '.join(COMMANDS)}")
    if kind == "action" or (kind == "step" and "action" in message):
        return Command(kind, _integer(message, "action", 0, n_actions - 1, "action"))
    if kind == "branch":
        return Command(kind, _integer(message, "step", 0, last_step, "branch step"))
    if kind == "agent":
        if not isinstance(message.get("on"), bool):
            raise ProtocolError("'agent' needs \"on\": true or false")
        return Command(kind, message["on"])
    return Command(kind)


def encode_frame(frame) -> str:
    """(height, width) uint8 gray frame, or (3, height, width) RGB -> base64 of its raw bytes, row by row
    (RGB: R, G, B of each pixel in turn)."""
    frame = np.asarray(frame, dtype=np.uint8)
    if frame.ndim == 3:
        frame = frame.transpose(1, 2, 0)
    return base64.b64encode(np.ascontiguousarray(frame).tobytes()).decode("ascii")


def decode_frame(text, shape) -> np.ndarray:
    """Inverse of :func:`encode_frame`: base64 -> ``shape`` uint8, (height, width) or (3, height, width)."""
    shape = tuple(shape)
    if len(shape) == 3:
        return np.frombuffer(base64.b64decode(text), dtype=np.uint8).reshape(shape[1:] + shape[:1]).transpose(2, 0, 1)
    return np.frombuffer(base64.b64decode(text), dtype=np.uint8).reshape(shape)


def error_message(text) -> str:
    return json.dumps({"type": "error", "message": str(text)})


def to_json(message) -> str:
    """A message dict as JSON; NaN and infinities (not JSON) become null."""

    def clean(value):
        if isinstance(value, float) and not np.isfinite(value):
            return None
        return value

    return json.dumps({key: clean(value) for key, value in message.items()})
