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
``error_source``   ``"training"`` (running mean of the training loss) or ``"validation"``
``settings``       the settings of the run that trained it (JSON)
=================  ============================================================

plus path-specific extras (``steps`` of online training). Files written
before this schema are still read: :func:`saved_error` takes the offline
path's old ``validation_error`` key.
"""
from typing import Optional

SIMULATOR_KIND = "simulator"


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
