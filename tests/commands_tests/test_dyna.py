"""``recurrent-sim dyna`` at tiny sizes: three rounds on BlockWorld-v1, each from the previous round's
simulator and agent; stops and --resume between rounds and inside a round; bad input."""
import csv
import json
import os
import signal

import numpy as np
import pytest

from recurrent_sim.commands import dyna_rounds
from recurrent_sim.data.episodes import read_manifest
from recurrent_sim.training.checkpoint import load_checkpoint

TINY = ["--env", "BlockWorld-v1", "--frame-size", 32, "--episodes-per-round", 2, "--max-episode-steps", 20,
        "--sim-updates", 3, "--hidden-size", 8, "--batch-size", 2, "--unroll-dep", 2, "--obs-dep", 1, "--pred-dep", 1,
        "--validation-fraction", 0.5, "--agent-steps", 30, "--sim-episode-len", 5, "--score-episodes", 2]


def weights(link) -> dict:
    return {name.lstrip("/"): np.array(param.array) for name, param in link.namedparams()}


def same(a, b) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[name], b[name]) for name in a)


def rows(out):
    with open(os.path.join(out, "rounds.csv")) as f:
        return list(csv.DictReader(f))


@pytest.fixture
def starts(monkeypatch):
    """The weights each simulator training and each agent training of a run starts from, in order."""
    seen = {"simulator": [], "agent": []}
    run, train = dyna_rounds.OfflineTrainer.run, dyna_rounds.train

    def trainer_run(self):
        seen["simulator"].append(weights(self.simulator))
        return run(self)

    def agent_train(env, agent, steps, *args, **kwargs):
        seen["agent"].append((weights(agent.model), steps))
        return train(env, agent, steps, *args, **kwargs)

    monkeypatch.setattr(dyna_rounds.OfflineTrainer, "run", trainer_run)
    monkeypatch.setattr(dyna_rounds, "train", agent_train)
    return seen


def saved_simulator(out, number):
    return weights(load_checkpoint(dyna_rounds.round_simulator(out, number)).build_simulator())


def saved_agent(out, number):
    with np.load(os.path.join(dyna_rounds.round_folder(out, number), "agent", "model.npz")) as npz:
        return {name: npz[name] for name in npz.files}


def test_three_rounds_each_start_from_the_previous_rounds_simulator_and_agent(tmp_path, cli, starts):
    out = tmp_path / "run"
    code, stdout, err = cli("dyna", "--out", out, "--rounds", 3, *TINY)
    assert code == 0, err
    assert [int(r["round"]) for r in rows(out)] == [1, 2, 3]
    assert [int(r["episodes"]) for r in rows(out)] == [2, 4, 6]
    assert [int(r["simulator_updates"]) for r in rows(out)] == [3, 6, 9]
    assert [int(r["agent_steps"]) for r in rows(out)] == [30, 60, 90]
    assert all(np.isfinite(float(r["score_mean"])) for r in rows(out))
    assert len([line for line in stdout.splitlines() if line.startswith("round ")]) == 3
    assert "over 2 episodes" in stdout and (out / "rounds.png").is_file()
    assert len(starts["simulator"]) == len(starts["agent"]) == 3
    for number in (2, 3):
        assert same(starts["simulator"][number - 1], saved_simulator(out, number - 1))
        assert same(starts["agent"][number - 1][0], saved_agent(out, number - 1))
        # and training moved them: the comparison above is not trivially true
        assert not same(saved_simulator(out, number - 1), starts["simulator"][0])
        assert not same(saved_agent(out, number - 1), starts["agent"][0][0])
    policies = [e["policy"] for e in read_manifest(out / "data")["episodes"]]
    assert policies[:2] == ["dyna round 1: agent:untrained"] * 2
    assert policies[2].startswith("dyna round 2: agent:") and policies[2].endswith(os.path.join("round_001", "agent"))
    assert policies[4].endswith(os.path.join("round_002", "agent"))


def test_resume_between_rounds_gives_the_uninterrupted_run(tmp_path, cli):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert cli("dyna", "--out", whole, "--rounds", 3, *TINY)[0] == 0
    assert cli("dyna", "--out", parts, "--rounds", 1, *TINY)[0] == 0
    first = os.path.getmtime(parts / "round_001" / "agent" / "model.npz")
    code, stdout, err = cli("dyna", "--out", parts, "--resume", "--rounds", 3)
    assert code == 0, err
    assert "round 1:" not in stdout and "round 3:" in stdout  # round 1 is not redone
    assert os.path.getmtime(parts / "round_001" / "agent" / "model.npz") == first
    assert rows(parts) == rows(whole)
    assert same(saved_agent(parts, 3), saved_agent(whole, 3))
    code, stdout, _ = cli("dyna", "--out", parts, "--resume")  # its 3 rounds are done
    assert code == 0 and "already holds 3 rounds; nothing to do" in stdout


def signal_after(count, signum):
    """A function that sends ``signum`` to this process on its ``count``-th call."""
    calls = [0]

    def maybe_signal(*args, **kwargs):
        calls[0] += 1
        if calls[0] == count:
            os.kill(os.getpid(), signum)

    return maybe_signal


class SignalingCounter(dyna_rounds.StepCounter):
    hook = None

    def observe(self, *args):
        super().observe(*args)
        SignalingCounter.hook()


def test_a_stop_inside_the_agent_phase_resumes_there(tmp_path, cli, starts, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(SignalingCounter, "hook", signal_after(30 + 12, signal.SIGINT))  # round 2, agent step 12
    monkeypatch.setattr(dyna_rounds, "StepCounter", SignalingCounter)
    code, stdout, err = cli("dyna", "--out", out, "--rounds", 3, *TINY)
    assert code == 130
    assert stdout.strip().splitlines()[-1] == ("SIGINT received: stopped in round 2 (agent phase); "
                                               "continue with --resume")
    state = json.load(open(out / "dyna.json"))
    assert (state["round"], state["phase"], state["agent_steps_done"]) == (2, "agent", 12)
    partial = out / "round_002" / state["agent_partial"]
    assert (partial / "model.npz").is_file() and not (out / "round_002" / "agent").exists()
    with np.load(partial / "model.npz") as npz:
        partial_weights = {name: npz[name] for name in npz.files}

    monkeypatch.setattr(SignalingCounter, "hook", lambda: None)
    code, stdout, err = cli("dyna", "--out", out, "--resume")
    assert code == 0, err
    assert [int(r["round"]) for r in rows(out)] == [1, 2, 3]
    assert "round 1:" not in stdout and "round 2:" in stdout
    weights_at_resume, steps = starts["agent"][2]
    assert steps == 30 - 12 and same(weights_at_resume, partial_weights)  # the stopped agent goes on
    assert not partial.exists()  # replaced by the round's agent
    assert len(starts["simulator"]) == 3  # round 2's simulator was not trained again


def test_a_stop_inside_the_simulator_phase_resumes_its_training(tmp_path, cli, starts, monkeypatch):
    out = tmp_path / "run"
    step = dyna_rounds.OfflineTrainer.train_step
    send = signal_after(3 + 2, signal.SIGTERM)  # round 2, update 2

    def train_step(self):
        result = step(self)
        send()
        return result

    monkeypatch.setattr(dyna_rounds.OfflineTrainer, "train_step", train_step)
    code, stdout, _ = cli("dyna", "--out", out, "--rounds", 2, *TINY)
    assert code == 143 and "stopped in round 2 (simulator phase); continue with --resume" in stdout
    assert len(rows(out)) == 1
    stopped_at = out / "round_002" / "simulator" / "checkpoints" / "checkpoint_00000002.npz"
    stopped_weights = weights(load_checkpoint(stopped_at).build_simulator())
    code, stdout, err = cli("dyna", "--out", out, "--resume")
    assert code == 0, err
    assert len(starts["simulator"]) == 3 and same(starts["simulator"][2], stopped_weights)
    assert [int(r["simulator_updates"]) for r in rows(out)] == [3, 6]
    assert len(read_manifest(out / "data")["episodes"]) == 4  # no episode collected twice


@pytest.mark.parametrize("argv, message", [
    (["--resume"], "does not exist; start without --resume"),
    (["--episodes-per-round", 1], "--episodes-per-round 1 leaves round 1 no episode to validate on"),
    (["--env", "NoSuchGame-v0"], "NoSuchGame-v0"),
    (["--frame-size", 8], "--frame-size 8 is too small"),
    (["--sim-reward", "sometimes"], "invalid choice"),
    (["--obs-dep", 0, "--pred-dep", 0], "obs_dep + pred_dep must be >= 1"),
    (["--lr", 0], "expected a positive finite number"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, cli, argv, message):
    out = tmp_path / "run"
    code, stdout, err = cli("dyna", "--out", out, *TINY, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_a_resume_refuses_other_settings_and_a_new_run_refuses_a_used_folder(tmp_path, cli):
    out = tmp_path / "run"
    assert cli("dyna", "--out", out, "--rounds", 1, *TINY)[0] == 0
    before = open(out / "dyna.json").read()
    for argv, message in (
            (["--resume", "--agent-steps", 99], "--resume: --agent-steps 99 differs from this run's 30"),
            (TINY, "already holds a dyna run: add --resume"),
    ):
        code, _, err = cli("dyna", "--out", out, "--rounds", 2, *argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert open(out / "dyna.json").read() == before
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    code, _, err = cli("dyna", "--out", tmp_path / "other", *TINY)
    assert code == 2 and "is not empty" in err
    assert os.listdir(tmp_path / "other") == ["notes.txt"]


def test_the_agent_and_simulator_settings_reach_their_phases_and_older_runs_keep_theirs(tmp_path, cli, monkeypatch):
    made = []
    make = dyna_rounds.make_learning_agent

    def recording_agent(*args, **kwargs):
        agent = make(*args, **kwargs)
        made.append((agent.t_max, agent.beta, agent.optimizer.eps))
        return agent

    monkeypatch.setattr(dyna_rounds, "make_learning_agent", recording_agent)
    out = tmp_path / "run"
    assert cli("dyna", "--out", out, "--rounds", 1, *TINY, "--beta", 0.02)[0] == 0
    config = load_checkpoint(dyna_rounds.round_simulator(out, 1)).config
    assert (config.architecture, config.head_input) == ("motion", "frame")  # the shipped simulator's kind
    assert made == [(20, 0.02, 1e-5)]  # the A3C setting that learns BlockWorld, --beta given
    # a run made before these settings existed (their values then): its dyna.json lacks them; it goes on
    # with what it used, not with the new defaults
    old = tmp_path / "old"
    earlier = ["--architecture", "skip", "--head-input", "state", "--t-max", 5, "--rmsprop-epsilon", 0.1]
    assert cli("dyna", "--out", old, "--rounds", 1, *TINY, *earlier)[0] == 0
    state = json.loads(open(old / "dyna.json").read())
    for name in ("architecture", "head_input", "t_max", "rmsprop_epsilon", "beta"):
        del state["settings"][name]
    (old / "dyna.json").write_text(json.dumps(state))
    code, _, err = cli("dyna", "--out", old, "--resume", "--rounds", 2)
    assert code == 0, err
    assert made[1:] == [(5, 1e-2, 1e-1), (5, 1e-2, 1e-1)]
    assert load_checkpoint(dyna_rounds.round_simulator(old, 2)).config.architecture == "skip"
