#!/usr/bin/env bash
# Creates (or updates) the virtual environment .venv in the repository root
# with recurrent_sim and everything it needs. Safe to run repeatedly.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${RECURRENT_SIM_VENV:-$root/.venv}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
# The browser test of `recurrent-sim play` drives Debian's Chromium through its
# chromedriver (no browser is downloaded at run time); installed when missing.
if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } && command -v apt-get >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ] && [ -z "${RECURRENT_SIM_NO_APT:-}" ]; then
  echo "[setup] installing chromium and chromium-driver (Debian packages) for the browser test" >&2
  log="$(mktemp)"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get install -y -qq chromium chromium-driver >"$log" 2>&1 \
         || { apt-get update -qq >>"$log" 2>&1 && apt-get install -y -qq chromium chromium-driver >>"$log" 2>&1; }; }; then
    echo "[setup] could not install chromium (the browser test will be skipped); see $log" >&2
  else
    rm -f "$log"
  fi
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating virtual environment $venv" >&2
  "$python" -m venv "$venv"
fi
# Open MPI (mpiexec and libmpi, for data-parallel training and its tests) from Debian's packages,
# only when mpiexec is missing; mpi4py comes with the test extra below.
if ! command -v mpiexec >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing Open MPI (openmpi-bin, libopenmpi-dev) with apt-get" >&2
    apt_install() {
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        openmpi-bin libopenmpi-dev >/dev/null
    }
    apt_install || { apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null && apt_install; }
  else
    echo "[setup] mpiexec not found: install Open MPI (openmpi-bin libopenmpi-dev) for data-parallel training;" \
      "its tests are skipped" >&2
  fi
fi
stamp="$venv/.recurrent_sim_installed"
if [ ! -f "$stamp" ] || [ "$root/setup.py" -nt "$stamp" ]; then
  echo "[setup] installing recurrent_sim and its dependencies into $venv" >&2
  PIP_CONSTRAINT="$root/scripts/constraints.txt" PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$venv/bin/pip" install -q -e "$root[test]"
  touch "$stamp"
fi
