"""Per-step errors, PSNR averages, baselines and the accurate horizon, on hand-made frames."""
import numpy as np
import pytest

from recurrent_sim.evaluation import (
    ErrorCurves,
    accurate_horizon,
    baseline_errors,
    per_step_mse,
    psnr,
    report_steps,
    threshold_from_fraction,
)


def test_per_step_mse_scales_uint8_to_unit_range():
    targets = np.zeros((2, 3, 4, 4), np.uint8)
    predictions = np.zeros_like(targets)
    predictions[0, 1, :2, :2] = 255  # a quarter of the pixels fully wrong
    predictions[1, 2] = 51  # every pixel off by 0.2
    mse = per_step_mse(predictions, targets)
    assert mse.shape == (2, 3)
    np.testing.assert_allclose(mse, [[0, 0.25, 0], [0, 0, 0.04]], atol=1e-12)


def test_per_step_mse_broadcasts_one_frame_over_steps():
    targets = np.stack([np.full((2, 4, 4), v, np.uint8) for v in (0, 255)])  # (2, 2, 4, 4)
    gray = np.full((4, 4), 0.5)
    np.testing.assert_allclose(per_step_mse(gray[None, None], targets), np.full((2, 2), 0.25))


def test_psnr_values_and_cap():
    np.testing.assert_allclose(psnr([0.01, 1.0, 1e-4]), [20.0, 0.0, 40.0])
    assert psnr(0.0) == pytest.approx(100.0)


def test_baselines_repeat_last_frame_and_mean_frame():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 6, 5, 5), dtype=np.uint8)
    frames[0, 2:] = frames[0, 1]  # sequence 0 stays still after frame 1
    mean_image = frames[:, 2:].mean(axis=(0, 1)) / 255.0
    errors = baseline_errors(frames, warmup=2, mean_image=mean_image)
    assert errors["repeat_last"].shape == errors["mean_frame"].shape == (3, 4)
    np.testing.assert_allclose(errors["repeat_last"][0], 0.0)
    expected = ((frames[1, 3].astype(float) - frames[1, 1]) / 255.0) ** 2
    assert errors["repeat_last"][1, 1] == pytest.approx(expected.mean())
    expected = (frames[2, 5] / 255.0 - mean_image) ** 2
    assert errors["mean_frame"][2, 3] == pytest.approx(expected.mean())


def curves_from(model, repeat_last=None, mean_frame=None):
    model = np.asarray(model, dtype=np.float64)
    return ErrorCurves({
        "model": model,
        "repeat_last": model * 2 if repeat_last is None else np.asarray(repeat_last, np.float64),
        "mean_frame": model * 3 if mean_frame is None else np.asarray(mean_frame, np.float64),
    })


def test_psnr_of_mean_differs_from_mean_of_psnr():
    curves = curves_from([[0.01], [0.0001]])
    assert curves.mean("model")[0] == pytest.approx(0.00505)
    assert curves.psnr("model")[0] == pytest.approx(10 * np.log10(1 / 0.00505))
    assert curves.psnr_seqavg("model")[0] == pytest.approx(30.0)
    assert curves.sem("model")[0] == pytest.approx(np.std([0.01, 0.0001], ddof=1) / np.sqrt(2))


def test_table_columns_and_order():
    curves = curves_from([[0.1, 0.2, 0.3]])
    table = curves.table()
    assert list(table)[:4] == ["step", "model_mse", "repeat_last_mse", "mean_frame_mse"]
    assert set(table) >= {"model_psnr", "repeat_last_psnr_seqavg", "mean_frame_psnr", "model_mse_sem"}
    np.testing.assert_array_equal(table["step"], [1, 2, 3])
    np.testing.assert_allclose(table["repeat_last_mse"], [0.2, 0.4, 0.6])
    np.testing.assert_allclose(table["model_mse_sem"], 0.0)  # one sequence


def test_accurate_horizon_is_first_step_over_threshold():
    assert accurate_horizon([0.1, 0.2, 0.5, 0.3], 0.25) == 3
    assert accurate_horizon([0.1, 0.2], 0.25) is None
    assert accurate_horizon([0.3, 0.1], 0.25) == 1
    assert accurate_horizon([0.25, 0.25], 0.25) is None  # "exceeds", not "reaches"


def test_threshold_is_a_fraction_of_the_mean_frame_error():
    curves = curves_from([[0.1, 0.1]], mean_frame=[[0.2, 0.6]])
    assert threshold_from_fraction(curves, 0.5) == pytest.approx(0.2)
    assert threshold_from_fraction(curves, 0.25) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "horizon, steps",
    [(1, [1]), (3, [1, 3]), (10, [1, 5, 10]), (20, [1, 5, 10, 20]), (100, [1, 5, 10, 50, 100]),
     (200, [1, 5, 10, 50, 100, 200])],
)
def test_report_steps(horizon, steps):
    assert report_steps(horizon) == steps


def test_ratio_to_the_better_baseline_per_step():
    from recurrent_sim.evaluation.metrics import ErrorCurves

    curves = ErrorCurves({
        "model": np.array([[0.1, 0.4, 0.3], [0.3, 0.4, 0.1]]),  # means 0.2, 0.4, 0.2
        "repeat_last": np.array([[0.4, 0.2, 0.9], [0.4, 0.2, 0.9]]),  # 0.4, 0.2, 0.9
        "mean_frame": np.array([[0.5, 0.5, 0.4], [0.5, 0.5, 0.0]]),  # 0.5, 0.5, 0.2
    })
    np.testing.assert_allclose(curves.ratio_to_best_baseline(), [0.5, 2.0, 1.0])
    assert list(curves.table())[:6] == ["step", "model_mse", "repeat_last_mse", "mean_frame_mse", "model_mse_sem",
                                        "ratio_to_best_baseline"]
    exact = ErrorCurves({name: np.zeros((1, 2)) for name in ("model", "repeat_last", "mean_frame")})
    assert np.isinf(exact.ratio_to_best_baseline()).all()
