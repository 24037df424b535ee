"""Timing helpers of the benchmark: repeats after a warm-up, medians, a results table."""
import logging
import statistics
import time
from typing import Optional

import numpy as np

from recurrent_sim.utils.system import peak_memory_mib

logger = logging.getLogger(__name__)


def _synchronize(xp):
    if xp is not np:
        xp.cuda.Device().synchronize()


def _median_rate(seconds, amount):
    """(median rate, per-repeat rates) for ``amount`` units done in each of ``seconds``."""
    rates = [amount / max(s, 1e-12) for s in seconds]
    return statistics.median(rates), rates


class Results:
    """Collects measurements: name -> value, unit, per-repeat values."""

    def __init__(self):
        self.rows = []

    def add(self, key, label, seconds, amount, unit):
        value, samples = _median_rate(seconds, amount)
        self.rows.append(
            {
                "key": key,
                "label": label,
                "value": value,
                "unit": unit,
                "samples": samples,
                "seconds": list(seconds),
                "peak_memory_mib": peak_memory_mib(),
            }
        )
        logger.info("%s: %.1f %s (median of %d)", label, value, unit, len(seconds))
        return value

    def value(self, key) -> Optional[float]:
        for row in self.rows:
            if row["key"] == key:
                return row["value"]
        return None


def time_repeats(run, repeats, xp=np):
    """Seconds of each of ``repeats`` calls of ``run`` after one untimed call."""
    run()
    _synchronize(xp)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        _synchronize(xp)
        seconds.append(time.perf_counter() - start)
    return seconds


def format_table(report: dict) -> str:
    """The report as a plain-text table with a header of settings and threads."""
    settings, system = report["settings"], report["system"]
    schedule = settings["schedule"]
    threads = ", ".join(f"{k}={v if v is not None else 'unset'}" for k, v in system["threads"].items())
    lines = [
        f"game {settings['env_id']}, frames {settings['frame_size']}x{settings['frame_size']} gray, "
        f"LSTM {settings['hidden_size']}, batch {settings['batch_size']}, sequence "
        f"{schedule['unroll_dep']} warm-up + {schedule['obs_dep']} observed + {schedule['pred_dep']} predicted",
        f"device {system['device']}, {system['cpus_usable']} usable CPUs, {threads}, "
        f"OpenBLAS kernels {system.get('blas_core') or 'unknown'}",
        f"python {system['python']}, numpy {system['numpy']}, chainer {system['chainer']}, "
        f"chainerrl {system['chainerrl']}, gym {system['gym']}, ale-py {system['ale_py']}, "
        f"cupy {system['cupy'] or '-'}",
        "",
    ]
    rows = [
        (row["label"], f"{row['value']:,.1f}", row["unit"], f"{len(row['samples'])}")
        for row in report["measurements"]
    ]
    header = ("measurement", "median", "unit", "repeats")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
    fmt = f"{{:<{widths[0]}}}  {{:>{widths[1]}}}  {{:<{widths[2]}}}  {{:>{widths[3]}}}"
    lines += [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in rows]
    lines.append("")
    for name, ratio in report["speedups"].items():
        what = {
            "training": "training, fast path / reference",
            "inference_batch_1": "simulator batch 1 / reference batch 1",
            "inference_batch_n": f"simulator batch {settings['inference_batch']} / reference batch 1",
            "independent_vs_game": f"independent simulator batch {settings['inference_batch']}, last frame "
                                   "decoded / real game",
            "independent_decoding_vs_game": f"independent simulator batch {settings['inference_batch']}, every "
                                            "frame decoded / real game",
        }[name]
        lines.append(f"speed-up {what}: {ratio:.1f}x")
    lines.append(f"peak memory: {report['peak_memory_mib']:,.0f} MiB")
    return "\n".join(lines)
