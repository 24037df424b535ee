"""What examples/mygym/train_a3c_gym.py (the original script) builds and runs, from its flags.

:mod:`.games`: the real game and the agent; :mod:`.preparation`: every check
before anything is written, giving a :class:`~.preparation.TrainingSetup` or
a :class:`~.preparation.SimulatorSetup`; :mod:`.runs`: the three modes
(training, --train-in-sim, --demo).
"""
