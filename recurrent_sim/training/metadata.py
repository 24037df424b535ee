"""One metadata schema for the simulator checkpoints of every path.

``simulator.npz`` of ``--savesim`` (online training, the original script)
and of ``recurrent-sim train`` (offline, best by validation) carry the same
keys:

=================  ============================================================
key                meaning
=================  ============================================================
``kind``           ``"simulator"`` (numbered checkpoints of a run: ``"offline_training"``)
``env_id``         gym id of the game it was trained on
``updates``        updates made when it was saved
``error``          the error it was chosen by (lower is better), or None
``error_source``   ``"validation"``, or ``"training"`` in older online files
``settings``       the settings of the run that trained it (JSON)
=================  ============================================================

plus path-specific extras (``steps`` of online training). Files written
before this schema are still read: :func:`saved_error` takes the offline
path's old ``validation_error`` key.

Loading checks the metadata field by field (:func:`metadata_problem`): it
must be a JSON object, each known field of its type (below; other fields
are kept as they are), and a numbered checkpoint of ``recurrent-sim train``
(kind ``"offline_training"``) must have every field a resume reads.
"""
import json
import math
from typing import Optional

SIMULATOR_KIND = "simulator"
RUN_KIND = "offline_training"


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _optional(check):
    return lambda value: value is None or check(value)


def _of_type(kind):
    return lambda value: isinstance(value, kind)


_TEXT, _OBJECT, _LIST = _of_type(str), _of_type(dict), _of_type(list)
_ERROR = (_optional(_number), "a finite number or null")
# key: (check, what the value must be)
FIELDS = {
    "kind": (_TEXT, "a string"),
    "env_id": (_optional(_TEXT), "a string or null"),
    "updates": (_count, "an integer >= 0"),
    "steps": (_count, "an integer >= 0"),
    "error": _ERROR,
    "validation_error": _ERROR,
    "error_source": (lambda value: value in ("training", "validation"), "'training' or 'validation'"),
    "settings": (_OBJECT, "an object"),
    "options": (_OBJECT, "an object"),
    "dataset": (_OBJECT, "an object"),
    "state": (_OBJECT, "an object"),
    "history": (lambda value: _LIST(value) and all(map(_OBJECT, value)), "a list of objects"),
}
RUN_FIELDS = ("env_id", "updates", "settings", "options", "dataset", "state", "history")
DATASET_FIELDS = {
    "folders": (lambda value: _LIST(value) and all(map(_TEXT, value)), "a list of strings"),
    "fingerprint": (_LIST, "a list"),
}
STATE_FIELDS = {
    "updates": (_count, "an integer >= 0"),
    "skipped": (_count, "an integer >= 0"),
    "consecutive_skipped": (_count, "an integer >= 0"),
    "best_validation_error": _ERROR,
    "elapsed_seconds": (lambda value: _number(value) and value >= 0, "a finite number >= 0"),
    "window": (lambda value: _LIST(value) and all(map(_LIST, value)), "a list of lists"),
    "sampler": (_OBJECT, "an object"),
}


def _fields_problem(values, fields, where, required=()) -> str:
    for key in required:
        if key not in values:
            return f"{where} has no {key!r}"
    for key, (check, what) in fields.items():
        if key in values and not check(values[key]):
            return f"{where} {key!r} is {json.dumps(values[key])[:40]}, not {what}"
    return ""


def metadata_problem(metadata) -> str:
    """What is wrong with the ``metadata`` of a loaded checkpoint (see the module docstring); ''
    when nothing is."""
    if not isinstance(metadata, dict):
        return f"its metadata is {json.dumps(metadata)[:40]}, not a JSON object"
    problem = _fields_problem(metadata, FIELDS, "metadata field")
    if problem or metadata.get("kind") != RUN_KIND:
        return problem
    return (_fields_problem(metadata, FIELDS, "metadata", RUN_FIELDS)
            or _fields_problem(metadata["dataset"], DATASET_FIELDS, "metadata dataset", tuple(DATASET_FIELDS))
            or _fields_problem(metadata["state"], dict(STATE_FIELDS, sequences_seen=(_count, "an integer >= 0")),
                               "metadata state", tuple(STATE_FIELDS)))


def simulator_metadata(env_id, updates, error, error_source, settings=None, **extra) -> dict:
    """The metadata of a saved simulator (see the table above); ``extra`` adds keys."""
    if error_source not in ("training", "validation"):
        raise ValueError(f"error_source must be 'training' or 'validation', got {error_source!r}")
    metadata = {
        "kind": SIMULATOR_KIND,
        "env_id": env_id,
        "updates": int(updates),
        "error": None if error is None else float(error),
        "error_source": error_source,
        "settings": dict(settings or {}),
    }
    metadata.update(extra)
    return metadata


def saved_error(metadata) -> Optional[float]:
    """The error a simulator was saved with, from current and earlier files alike (None if none)."""
    for key in ("error", "validation_error"):
        if metadata.get(key) is not None:
            return float(metadata[key])
    return None
