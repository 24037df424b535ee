"""Tests of the progress bar used by long commands."""
import io

from recurrent_sim.utils.progress import Progress


def test_non_terminal_output_prints_lines_with_counts_and_fields_once_at_the_end():
    stream = io.StringIO()
    with Progress(4, "training", stream=stream, min_interval=3600, unit="updates") as bar:
        for _ in range(4):
            bar.update(1, error=0.25)
    lines = stream.getvalue().splitlines()
    # the first update prints (interval elapsed since time 0), then only the final one
    assert len(lines) == 2
    assert lines[0].startswith("training [#####...............] 1/4")
    assert lines[-1].startswith("training [####################] 4/4")
    assert "updates/s" in lines[-1] and "error=0.25" in lines[-1]


def test_close_prints_the_last_state_when_it_was_not_shown():
    stream = io.StringIO()
    with Progress(10, "collect", stream=stream, min_interval=3600) as bar:
        for _ in range(3):
            bar.update(1)
    lines = stream.getvalue().splitlines()
    assert [line.split()[2] for line in lines] == ["1/10", "3/10"]


def test_unknown_total_shows_the_count():
    stream = io.StringIO()
    with Progress(None, "steps", stream=stream, min_interval=0) as bar:
        bar.update(5)
    assert stream.getvalue().splitlines()[-1].startswith("steps 5 ")
