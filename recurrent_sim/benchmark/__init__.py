"""The benchmark behind ``recurrent-sim bench``: training, simulator and game throughput."""
from recurrent_sim.benchmark.run import run_benchmark  # NOQA
from recurrent_sim.benchmark.settings import BenchSettings  # NOQA
from recurrent_sim.benchmark.timing import format_table  # NOQA
