"""Data-parallel pieces in one process: finding mpiexec, the errors without MPI, each rank's
batches and their state across a change in the number of ranks."""
import json
import sys

import numpy as np
import pytest

from recurrent_sim.data.dataset_sampler import SequenceSampler
from recurrent_sim.training.data_parallel import SingleProcess, connect, mpi_world_size
from recurrent_sim.training.rank_sampling import RankSampler, all_ranks_mean, rank_share
from recurrent_sim.utils.errors import UserError
from tests.helpers import make_episode

LENGTH = 5


class Rank(SingleProcess):
    """Rank ``rank`` of ``size``, without communication (each test combines the ranks itself)."""

    def __init__(self, rank, size):
        self.rank, self.size, self.is_root = rank, size, rank == 0


@pytest.fixture
def episodes():
    return [make_episode(12, seed=i) for i in range(3)]


def windows(batch):
    return sorted(zip(batch.frames[:, 0].sum(axis=(1, 2)).tolist(), batch.starts.tolist()))


def test_mpi_launchers_are_found_from_their_environment_variables():
    assert mpi_world_size({}) == 0
    assert mpi_world_size({"OMPI_COMM_WORLD_SIZE": "4"}) == 4
    assert mpi_world_size({"PMI_SIZE": "2"}) == 2
    assert mpi_world_size({"OMPI_COMM_WORLD_SIZE": ""}) == 0


def test_outside_mpiexec_a_single_process_and_no_communicator(monkeypatch):
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    ranks = connect()
    assert (ranks.rank, ranks.size, ranks.is_root) == (0, 1, True)
    with pytest.raises(UserError, match=r"^--communicator naive needs the run to be started by mpiexec"):
        connect("naive")


def test_under_mpiexec_without_mpi4py_one_clear_line(monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import fails as when it is not installed
    with pytest.raises(UserError) as error:
        connect()
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("started by mpiexec (2 processes) but mpi4py cannot be loaded")
    assert "pip install -e '.[mpi]'" in message and "openmpi-bin" in message
    with pytest.raises(UserError, match="--communicator pure_nccl needs GPUs"):
        connect("pure_nccl", gpu=-1)


def test_communicator_outside_mpiexec_is_refused_by_the_command(cli, dataset, tmp_path, monkeypatch):
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE", raising=False)
    monkeypatch.delenv("PMI_SIZE", raising=False)
    code, out, err = cli("train", dataset, "--out", tmp_path / "run", "--communicator", "naive")
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("recurrent-sim train: error: --communicator naive needs")
    assert not (tmp_path / "run").exists()


def test_independent_ranks_draw_different_streams_rank_0_the_single_process_one(episodes):
    single = SequenceSampler(episodes, [0, 1, 2], LENGTH, [7, 1])
    rank0, rank1 = (RankSampler(episodes, [0, 1, 2], LENGTH, 7, Rank(r, 2)) for r in (0, 1))
    for _ in range(3):
        reference, first, second = single.sample(4), rank0.sample(4), rank1.sample(4)
        assert windows(first) == windows(reference)
        assert windows(second) != windows(first)


def test_split_ranks_share_out_the_batch_of_one_process(episodes):
    single = RankSampler(episodes, [0, 1, 2], LENGTH, 7, SingleProcess())
    ranks = [RankSampler(episodes, [0, 1, 2], LENGTH, 7, Rank(r, 2), mode="split") for r in (0, 1)]
    for _ in range(4):  # across the end of a pass too (24 windows per pass)
        reference = single.sample(8)
        halves = [sampler.sample(4) for sampler in ranks]
        np.testing.assert_array_equal(np.concatenate([h.frames for h in halves]), reference.frames)
        np.testing.assert_array_equal(np.concatenate([h.actions for h in halves]), reference.actions)


def _saved_by_two_ranks(episodes, draws):
    """What a checkpoint of a 2-rank independent run holds after ``draws`` batches of 3."""
    samplers = [RankSampler(episodes, [0, 1, 2], LENGTH, 7, Rank(r, 2)) for r in (0, 1)]
    for _ in range(draws):
        for sampler in samplers:
            sampler.sample(3)
    state = dict(samplers[0].sampler.state_dict(), other_ranks=[samplers[1].sampler.state_dict()])
    return json.loads(json.dumps(state)), samplers


def test_resume_with_the_same_ranks_continues_every_stream(episodes):
    state, samplers = _saved_by_two_ranks(episodes, 5)
    for rank, original in enumerate(samplers):
        resumed = RankSampler(episodes, [0, 1, 2], LENGTH, 7, Rank(rank, 2))
        resumed.load_state_dict(state, updates=5)
        assert windows(resumed.sample(3)) == windows(original.sample(3))


def test_resume_with_other_ranks_keeps_old_streams_and_seeds_new_ones(episodes, caplog):
    state, samplers = _saved_by_two_ranks(episodes, 5)
    alone = RankSampler(episodes, [0, 1, 2], LENGTH, 7, SingleProcess())  # 2 -> 1: rank 0's stream goes on
    alone.load_state_dict(state, updates=5)
    assert windows(alone.sample(3)) == windows(samplers[0].sample(3))
    three = [RankSampler(episodes, [0, 1, 2], LENGTH, 7, Rank(r, 3)) for r in range(3)]  # 2 -> 3
    for sampler in three:
        sampler.load_state_dict(state, updates=5)
    assert "saved by 2 rank(s), it goes on with 3" in caplog.text
    assert windows(three[1].sample(3)) == windows(samplers[1].sample(3))
    fresh = SequenceSampler(episodes, [0, 1, 2], LENGTH, [7, 1, 2, 5])  # rank 2: a new stream, seeded by the update
    assert windows(three[2].sample(3)) == windows(fresh.sample(3))
    single_state = json.loads(json.dumps(SequenceSampler(episodes, [0, 1, 2], LENGTH, [7, 1]).state_dict()))
    one_to_two = RankSampler(episodes, [0, 1, 2], LENGTH, 7, Rank(1, 2))  # 1 -> 2: rank 1 is new
    one_to_two.load_state_dict(single_state, updates=9)
    assert windows(one_to_two.sample(3)) == windows(SequenceSampler(episodes, [0, 1, 2], LENGTH, [7, 1, 1, 9]).sample(3))


def test_validation_shares_and_means_over_ranks():
    batches = list(range(7))
    assert [rank_share(batches, Rank(r, 3)) for r in range(3)] == [[0, 3, 6], [1, 4], [2, 5]]
    assert all_ranks_mean({"error": 6.0}, 3, ["error"], SingleProcess()) == {"error": 2.0}
    assert np.isnan(all_ranks_mean({}, 0, ["error"], SingleProcess())["error"])
