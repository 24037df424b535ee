"""Pictures and animations of frames: side-by-side panels, PNG, GIF.

Frames are (H, W) uint8 gray or (H, W, 3) uint8 RGB images; the stored RGB
frames of the simulator, (3, H, W) channels first, are accepted too.
"""
import os

import cv2
import numpy as np

from recurrent_sim.utils.files import atomic_write


def to_rgb(frame) -> np.ndarray:
    """(H, W), (H, W, 3) or channels-first (3, H, W) uint8 -> (H, W, 3) uint8."""
    frame = np.asarray(frame)
    if frame.ndim == 2:
        return np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim == 3 and frame.shape[0] == 3 and frame.shape[2] != 3:
        return np.ascontiguousarray(frame.transpose(1, 2, 0))
    return frame


def luminance(frames) -> np.ndarray:
    """RGB frames stored channels first, (..., 3, H, W) uint8 -> (..., H, W) uint8 gray,
    0.299 R + 0.587 G + 0.114 B rounded: what the agents see of RGB frames and what the object measures read."""
    frames = np.asarray(frames)
    if frames.ndim < 3 or frames.shape[-3] != 3:
        raise ValueError(f"expected (..., 3, H, W) RGB frames, got shape {frames.shape}")
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32).reshape(3, 1, 1)
    return np.clip(np.rint((frames * weights).sum(axis=-3)), 0, 255).astype(np.uint8)


def side_by_side(panels, labels=None, scale=2, caption=None) -> np.ndarray:
    """Panels of equal height, scaled by ``scale`` (nearest), separated by a
    2-pixel white line, each with an optional label above it and an optional
    caption (e.g. the step number) at the bottom. Returns (H', W', 3) uint8.
    """
    rgb = [cv2.resize(to_rgb(p), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST) for p in panels]
    height = max(p.shape[0] for p in rgb)
    rgb = [np.pad(p, ((0, height - p.shape[0]), (0, 0), (0, 0))) for p in rgb]
    gap = np.full((height, 2, 3), 255, dtype=np.uint8)
    row = [rgb[0]]
    for p in rgb[1:]:
        row += [gap, p]
    image = np.concatenate(row, axis=1)
    band = 14
    if labels:
        top = np.zeros((band, image.shape[1], 3), dtype=np.uint8)
        x = 0
        for p, label in zip(rgb, labels):
            cv2.putText(top, str(label), (x + 2, band - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1)
            x += p.shape[1] + 2
        image = np.concatenate([top, image], axis=0)
    if caption:
        bottom = np.zeros((band, image.shape[1], 3), dtype=np.uint8)
        cv2.putText(bottom, str(caption), (2, band - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1)
        image = np.concatenate([image, bottom], axis=0)
    return image


def save_png(path, image):
    """Write an (H, W) or (H, W, 3) RGB uint8 image as PNG, atomically; folders are created."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    ok, data = cv2.imencode(".png", cv2.cvtColor(to_rgb(image), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"could not encode image {path}")
    atomic_write(os.fspath(path), lambda f: f.write(data.tobytes()))


def save_animation(path, images, fps=10):
    """Write RGB images of equal size as an animated GIF (looping), atomically."""
    import imageio

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    frames = [to_rgb(i) for i in images]
    atomic_write(os.fspath(path), lambda f: imageio.mimsave(f, frames, format="GIF", duration=1000.0 / fps, loop=0))
