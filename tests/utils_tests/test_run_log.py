"""log.csv: its exact lines, and a log continued after a stop is the same file as one written at once."""
import csv

import numpy as np

from recurrent_sim.utils.run_log import RunLog

FIELDS = ("update", "train_error", "validation_error", "frames_per_second")
ROWS = [
    {"update": 1, "train_error": 0.1, "frames_per_second": 250.0},
    {"update": 2, "train_error": 1e-05, "validation_error": float("nan"), "frames_per_second": np.float64(12.5)},
    {"update": 3, "train_error": float("inf"), "validation_error": 2.0000000000000004, "frames_per_second": None},
]
EXPECTED = (
    "update,train_error,validation_error,frames_per_second\n"
    "1,0.1,,250.0\n"
    "2,1e-05,nan,12.5\n"
    "3,inf,2.0000000000000004,\n"
)


def make_log(folder):
    return RunLog(folder, FIELDS, tensorboard=False, draw_interval=1e9)


def test_the_lines_of_log_csv(tmp_path):
    log = make_log(tmp_path).open()
    for row in ROWS:
        log.append(row)
    assert (tmp_path / "log.csv").read_bytes() == EXPECTED.encode()
    log.write(rewrite_csv=True)  # the rows in memory give the same file
    assert (tmp_path / "log.csv").read_bytes() == EXPECTED.encode()
    read = list(csv.DictReader(open(tmp_path / "log.csv", newline="")))
    assert [row["train_error"] for row in read] == ["0.1", "1e-05", "inf"]


def test_a_continued_log_is_the_same_file(tmp_path):
    first = make_log(tmp_path).open()
    first.append(ROWS[0])
    first.write()  # log.json holds the rows so far
    continued = make_log(tmp_path).open()
    assert continued.rows == [ROWS[0]]
    for row in ROWS[1:]:
        continued.append(row)
    assert (tmp_path / "log.csv").read_bytes() == EXPECTED.encode()


def test_a_cell_with_a_comma_is_quoted(tmp_path):
    log = RunLog(tmp_path, ("episode", "note"), step_field="episode", tensorboard=False).open()
    log.append({"episode": 1, "note": "a, b"})
    assert (tmp_path / "log.csv").read_text() == 'episode,note\n1,"a, b"\n'
    assert list(csv.reader(open(tmp_path / "log.csv", newline="")))[1] == ["1", "a, b"]
