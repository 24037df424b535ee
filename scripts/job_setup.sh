# Sourced by run_main_job.sh and run_long_job.sh: works from the repository
# root, sets the thread counts (all cores unless set), creates or updates
# .venv, and sets $root and $started (seconds since the epoch).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}" OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-$(nproc)}"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"
started=$(date +%s)

echo "== 1/4 setting up the virtual environment (.venv)"
bash scripts/setup_venv.sh
