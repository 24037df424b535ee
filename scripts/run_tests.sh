#!/usr/bin/env bash
# Sets up .venv (see setup_venv.sh) and runs the test suite.
# Extra arguments go to pytest, e.g. `scripts/run_tests.sh -m slow`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup_venv.sh"
venv="${RECURRENT_SIM_VENV:-$root/.venv}"
cd "$root"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-2}"
exec "$venv/bin/python" -m pytest "$@"
