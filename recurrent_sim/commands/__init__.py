"""Sub-commands of ``recurrent-sim``; each module is one command (see cli.py)."""
