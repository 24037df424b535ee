"""The mean image a simulator subtracts from its input frames, set once from the first frames."""
import logging

import numpy as np

logger = logging.getLogger(__name__)

MEAN_IMAGE_FRAMES = 2048  # frames averaged into the mean image, as in the paper


def ensure_mean_image(simulator, frames) -> bool:
    """Set ``simulator``'s mean image from the first :data:`MEAN_IMAGE_FRAMES` of ``frames``,
    unless it has one (a loaded simulator keeps its own); returns True when set.

    Args:
        frames: (n, H, W) uint8 frames, or a sequence of such arrays (episodes)
            read in order until enough frames are gathered.
    """
    if simulator.has_mean_image:
        return False
    if isinstance(frames, np.ndarray):
        chunks = [frames]
    else:
        chunks, count = [], 0
        for chunk in frames:
            chunks.append(chunk[: MEAN_IMAGE_FRAMES - count])
            count += len(chunks[-1])
            if count >= MEAN_IMAGE_FRAMES:
                break
    first = np.concatenate(chunks)[:MEAN_IMAGE_FRAMES]
    simulator.set_mean_image(first)
    logger.info("mean image computed from %d frames", len(first))
    return True
