"""Random generator states stored as plain arrays, for exact resumes without pickle."""
import json

import numpy as np


def _to_jsonable(obj):
    """Make a ``bit_generator.state`` dict JSON-encodable (ints, ndarrays)."""
    if isinstance(obj, dict):
        return {k: _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": obj.dtype.str}
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _from_jsonable(obj):
    """Inverse of :func:`_to_jsonable`."""
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            return np.asarray(obj["__ndarray__"], dtype=np.dtype(obj["dtype"]))
        return {k: _from_jsonable(v) for k, v in obj.items()}
    return obj


def encode_generator(rng: np.random.Generator) -> np.ndarray:
    """The state of ``rng`` as a uint8 array of JSON text (storable in an ``.npz``, no pickle)."""
    text = json.dumps(_to_jsonable(rng.bit_generator.state), sort_keys=True)
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8).copy()


def decode_generator(arr: np.ndarray) -> np.random.Generator:
    """A generator in the state :func:`encode_generator` stored; ValueError for a foreign one."""
    state = _from_jsonable(json.loads(np.asarray(arr, dtype=np.uint8).tobytes().decode("ascii")))
    name = state.get("bit_generator")
    bitgen_cls = getattr(np.random, str(name), None)
    if not (isinstance(bitgen_cls, type) and issubclass(bitgen_cls, np.random.BitGenerator)):
        raise ValueError(f"unknown bit generator {name!r} in the saved state")
    bitgen = bitgen_cls()
    bitgen.state = state
    return np.random.Generator(bitgen)
