"""Block-grid geometry of the fast channels-last convolutions (see :mod:`recurrent_sim.models.fast_conv`).

A stride-``(sy, sx)`` convolution of a padded image is a stride-1
convolution of its ``(sy, sx)`` blocks; :class:`BlockLayout` holds that
grid's sizes, the shifts of its taps and the moves between images, block
grids and weight layouts.
"""
import math

import numpy as np

from recurrent_sim.utils.cpu_pool import worker_count

# Target size of one chunk's block grid, bytes: the batch is split so that
# the arrays of one chunk stay in the processor's cache.
CHUNK_BYTES = 2 * 2**20
# The weight gradient's chunks may be this many times larger: each ends in a
# product summed over its cells, and longer sums run faster.
GRADIENT_CHUNK_FACTOR = 2
# Below this length of block vector (sy * sx * channels), taps are gathered
# into a column matrix and multiplied once instead of one product per tap.
MIN_BLOCK_FOR_TAPS = 32


def pair(value):
    """``(value, value)`` for an int, the pair itself for a pair."""
    if isinstance(value, (tuple, list)):
        first, second = value
        return int(first), int(second)
    return int(value), int(value)


class BlockLayout:
    """Block-grid geometry of one convolution.

    ``image`` is the (height, width) the convolution reads (the output of the
    matching deconvolution); ``out`` the (height, width) it writes (the input
    of the deconvolution).
    """

    def __init__(self, kernel, stride, pad, image, out, channels, out_channels):
        self.kernel, self.stride, self.pad = kernel, stride, pad
        self.image, self.out = image, out
        self.channels, self.out_channels = channels, out_channels
        self.taps = tuple(math.ceil(k / s) for k, s in zip(kernel, stride))  # (my, mx)
        self.grid = tuple(o + m - 1 for o, m in zip(out, self.taps))  # (rows, cols)
        self.block = stride[0] * stride[1] * channels
        self.cells = self.grid[0] * self.grid[1]
        self.shifts = [
            i * self.grid[1] + j for i in range(self.taps[0]) for j in range(self.taps[1])
        ]
        self.per_tap = self.block >= MIN_BLOCK_FOR_TAPS
        # Whether the grid reaches every image pixel (else the trailing
        # pixels, read by no window, get a zero gradient).
        self.covers_image = all(s * g - p >= i for s, g, p, i in zip(stride, self.grid, pad, image))
        self.phases = []  # (u, v, rows of grid, rows of image, cols of grid, cols of image)
        for u in range(stride[0]):
            rows = self._phase(u, 0)
            for v in range(stride[1]):
                cols = self._phase(v, 1)
                if rows is not None and cols is not None:
                    self.phases.append((u, v) + rows + cols)

    def _phase(self, offset, axis):
        """Grid and image index slices of the pixels of block phase ``offset``."""
        stride, pad, size, cells = self.stride[axis], self.pad[axis], self.image[axis], self.grid[axis]
        first_cell = max(0, -((offset - pad) // stride))
        first_pixel = stride * first_cell + offset - pad
        count = min(cells - first_cell, -((first_pixel - size) // stride))
        if count <= 0:
            return None
        last_pixel = first_pixel + stride * (count - 1) + 1
        return slice(first_cell, first_cell + count), slice(first_pixel, last_pixel, stride)

    def chunk(self, batch, itemsize, per_cell, factor=1):
        """Batch items per chunk, for temporaries of ``per_cell`` numbers per grid cell within ``factor``
        times :data:`CHUNK_BYTES`; with several worker threads at least two chunks per thread, so that
        they share the work."""
        per_item = self.cells * per_cell * itemsize
        step = min(batch, factor * CHUNK_BYTES // max(per_item, 1))
        workers = worker_count()
        if workers > 1:
            step = min(step, -(-batch // (2 * workers)))
        return int(max(1, step))

    # ----- layout conversions ------------------------------------------------
    def to_blocks(self, images):
        """(b, H, W, C) images -> (b * rows * cols, sy * sx * C) block vectors."""
        b = len(images)
        blocks = np.zeros((b,) + self.grid + self.stride + (self.channels,), dtype=images.dtype)
        for u, v, grid_rows, image_rows, grid_cols, image_cols in self.phases:
            blocks[:, grid_rows, grid_cols, u, v] = images[:, image_rows, image_cols]
        return blocks.reshape(b * self.cells, self.block)

    def from_blocks(self, blocks, out):
        """Block vectors (b * rows * cols, sy * sx * C) -> images ``out`` (b, H, W, C)."""
        b = len(out)
        blocks = blocks.reshape((b,) + self.grid + self.stride + (self.channels,))
        if not self.covers_image:
            out[...] = 0
        for u, v, grid_rows, image_rows, grid_cols, image_cols in self.phases:
            out[:, image_rows, image_cols] = blocks[:, grid_rows, grid_cols, u, v]
        return out

    def to_grid(self, outputs, lead=0):
        """(b, out_h, out_w, Co) -> (lead + b * rows * cols, Co), zero outside
        the outputs (and in the ``lead`` first rows)."""
        b = len(outputs)
        flat = np.zeros((lead + b * self.cells, self.out_channels), dtype=outputs.dtype)
        grid = flat[lead:].reshape((b,) + self.grid + (self.out_channels,))
        grid[:, : self.out[0], : self.out[1]] = outputs
        return flat

    def gather(self, blocks):
        """Column matrix (n, taps * block) of the taps of the first n cells,
        copied from a strided view of the C-ordered ``blocks`` in one go."""
        n = len(blocks) - self.shifts[-1]
        row = blocks.strides[0]
        taps = np.lib.stride_tricks.as_strided(
            blocks,
            shape=(n,) + self.taps + (self.block,),
            strides=(row, self.grid[1] * row, row, blocks.strides[1]),
            writeable=False,
        )
        columns = np.empty(taps.shape, dtype=blocks.dtype)
        np.copyto(columns, taps)
        return columns.reshape(n, len(self.shifts) * self.block)

    def gather_back(self, grid, lead):
        """Column matrix (cells, taps * Co): row r holds ``grid[lead + r - shift]``
        for every tap, from a ``grid`` whose ``lead`` first rows are zero."""
        cells = len(grid) - lead
        row = grid.strides[0]
        taps = np.lib.stride_tricks.as_strided(
            grid[lead:],  # steps back into the zero rows
            shape=(cells,) + self.taps + (grid.shape[1],),
            strides=(row, -self.grid[1] * row, -row, grid.strides[1]),
            writeable=False,
        )
        columns = np.empty(taps.shape, dtype=grid.dtype)
        np.copyto(columns, taps)
        return columns.reshape(cells, len(self.shifts) * grid.shape[1])

    # ----- weights ------------------------------------------------------------
    def tap_weights(self, weight):
        """(Co, C, kh, kw) conv weight -> (taps, sy * sx * C, Co) tap matrices."""
        (my, mx), (sy, sx) = self.taps, self.stride
        out_ch, in_ch, kh, kw = weight.shape
        padded = np.zeros((out_ch, in_ch, my * sy, mx * sx), dtype=weight.dtype)
        padded[:, :, :kh, :kw] = weight
        padded = padded.reshape(out_ch, in_ch, my, sy, mx, sx).transpose(2, 4, 3, 5, 1, 0)
        return np.ascontiguousarray(padded).reshape(my * mx, sy * sx * in_ch, out_ch)

    def conv_weight(self, taps):
        """Inverse of :meth:`tap_weights`: (taps, block, Co) -> (Co, C, kh, kw)."""
        (my, mx), (sy, sx) = self.taps, self.stride
        out_ch = taps.shape[2]
        weight = taps.reshape(my, mx, sy, sx, self.channels, out_ch).transpose(5, 4, 0, 2, 1, 3)
        weight = weight.reshape(out_ch, self.channels, my * sy, mx * sx)
        return np.ascontiguousarray(weight[:, :, : self.kernel[0], : self.kernel[1]])
