"""``python -m recurrent_sim COMMAND ...`` is ``recurrent-sim COMMAND ...``."""
import sys

from recurrent_sim.cli import main

sys.exit(main())
