"""The learning curve drawn from chainerrl's scores.txt."""
import numpy as np
import pytest
from PIL import Image

from recurrent_sim.evaluation.learning_curve import main, plot_learning_curve, read_scores, rows_of

HEADER = "steps\tepisodes\telapsed\tmean\tmedian\tstdev\tmax\tmin\taverage_value\n"


def write_scores(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "scores.txt"
    path.write_text(HEADER + "".join("\t".join(str(v) for v in row) + "\n" for row in rows))
    return path


def test_read_scores_takes_columns_by_name(tmp_path):
    write_scores(tmp_path / "run", [(1000, 50, 3.2, 1.5, -1.0, 2.0, 9.0, -1.0, 0.1),
                                    (2000, 50, 6.4, 20.25, 17.0, 8.0, 63.0, 2.0, 0.5)])
    scores = read_scores(tmp_path / "run")  # the folder or the file
    np.testing.assert_array_equal(scores["steps"], [1000, 2000])
    np.testing.assert_array_equal(scores["mean"], [1.5, 20.25])
    np.testing.assert_array_equal(scores["max"], [9.0, 63.0])
    np.testing.assert_array_equal(scores["min"], [-1.0, 2.0])
    assert read_scores(tmp_path / "run" / "scores.txt")["mean"][1] == 20.25
    evaluations = rows_of(scores, 50)
    np.testing.assert_array_equal(evaluations["steps"], [1000, 2000])
    np.testing.assert_array_equal(rows_of(scores, 20)["steps"], [])


def test_rows_of_drops_the_training_row(tmp_path):
    write_scores(tmp_path, [(1000, 20, 1.0, 1.5, 0, 0, 9.0, -1.0, 0.1), (1000, 317, 2.0, 0.9, 0, 0, 9.0, -1.0, 0.1)])
    kept = rows_of(read_scores(tmp_path), 20)
    np.testing.assert_array_equal(kept["mean"], [1.5])
    np.testing.assert_array_equal(kept["episodes"], [20])


def test_read_scores_refuses_other_files(tmp_path):
    (tmp_path / "a.txt").write_text("x\ty\n1\t2\n")
    with pytest.raises(ValueError, match="no column steps, episodes, mean, min, max"):
        read_scores(tmp_path / "a.txt")
    path = write_scores(tmp_path / "b", [(1000, 50, 3.2, "nan?", 0, 0, 0, 0, 0)])
    with pytest.raises(ValueError, match="line 2: not a row of numbers"):
        read_scores(path)


def test_plot_writes_a_png(tmp_path):
    scores = {"steps": np.array([1.0, 2.0]), "episodes": np.array([50.0, 50.0]), "mean": np.array([1.0, 5.0]), "min": np.array([-1.0, 0.0]),
              "max": np.array([3.0, 9.0])}
    out = tmp_path / "images" / "curve.png"
    plot_learning_curve(out, [("seed 0", scores)], references=[("random", 1.78)])
    assert Image.open(out).size == (800, 500)


def test_main_draws_runs_and_reports_a_missing_file_in_one_line(tmp_path, capsys):
    run = write_scores(tmp_path / "run", [(1000, 50, 3.2, 1.5, -1.0, 2.0, 9.0, -1.0, 0.1)]).parent
    out = tmp_path / "curve.png"
    assert main([str(out), str(run), "--label", "seed 0", "--reference", "random play=1.78",
                 "--episodes", "50"]) == 0
    assert out.exists()
    assert main([str(tmp_path / "other.png"), str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing" in err[0] and err[0].startswith("python -m")
    assert not (tmp_path / "other.png").exists()
