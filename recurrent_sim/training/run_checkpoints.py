"""Saving an offline training run: numbered checkpoints of its whole state, the best simulator.

:class:`RunCheckpoints` is the saving half of
:class:`recurrent_sim.training.offline.OfflineTrainer`; it reads the
trainer's ``simulator``, ``optimizer``, ``step``, ``state``, ``settings``,
``options``, ``dataset``, ``sampler``, ``log``, ``out``,
``checkpoint_folder``, ``validation``, ``metric_names``, ``elapsed``,
``ranks`` and ``core`` (the :class:`~recurrent_sim.training.core.TrainingCore`
that writes every file and keeps the best simulator by validation error).
Parameters that are not finite are never saved. In a
data-parallel run every rank calls these at the same update (the sampler
states are gathered) and rank 0 alone writes.
"""
import dataclasses
import logging
import os

from recurrent_sim.training.checkpoint import (
    CHECKPOINT_FILENAME,
    numbered_checkpoint_path,
    prune_checkpoints,
)
from recurrent_sim.training.metadata import RUN_KIND, simulator_metadata

logger = logging.getLogger(__name__)


class RunCheckpoints:
    """Checkpoints and the best simulator of a run (a base of :class:`OfflineTrainer`)."""

    def _metadata(self, sampler_state) -> dict:
        return {
            "kind": RUN_KIND,
            "env_id": self.dataset.env_id,
            "updates": self.state.updates,
            "settings": self.settings.to_dict(),
            "options": {key: value for key, value in dataclasses.asdict(self.options).items() if key != "gpu"},
            "dataset": {
                "folders": [os.path.abspath(folder) for folder in self.dataset.folders],
                "fingerprint": self.dataset.fingerprint(),
            },
            "state": dict(self.state.state_dict(), elapsed_seconds=self.elapsed, sampler=sampler_state),
            "history": self.log.rows,
        }

    def save_checkpoint(self) -> str:
        """Save the full state as checkpoint number ``updates``, then prune old ones (its path;
        None on ranks other than 0)."""
        self.core.check_saveable()
        sampler_state = self.sampler.state_dict()
        if not self.ranks.is_root:
            return None
        path = self.core.write(numbered_checkpoint_path(self.checkpoint_folder, self.state.updates),
                               self._metadata(sampler_state))
        self.last_checkpoint = path
        prune_checkpoints(self.checkpoint_folder, self.options.keep_checkpoints)
        self.log.write()
        if not self.validation:  # no validation set: the simulator of the newest checkpoint is served
            self._save_simulator(None)
        logger.info("checkpoint %s", path)
        return path

    def _save_simulator(self, validation_error):
        self.core.check_saveable()
        if not self.ranks.is_root:
            return
        metadata = simulator_metadata(self.dataset.env_id, self.state.updates, validation_error, "validation",
                                      self.settings.to_dict())
        self.core.write(os.path.join(self.out, CHECKPOINT_FILENAME), metadata, with_optimizer=False)

    def _validate_and_keep_best(self, row):
        row.update(self.validate())
        error = row["validation_" + self.metric_names[0]]
        if self.core.keep_if_best(error, lambda: self._save_simulator(error)):
            logger.info("update %d: validation error %.6f, best so far: saved", self.state.updates, error)
        else:
            logger.info("update %d: validation error %.6f (best %.6f)", self.state.updates, error,
                        self.core.best_error)
