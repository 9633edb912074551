"""fashionseg tune: the search space, workers sharing one study (SQLite and a real PostgreSQL
server), a dead worker's trial retried, continuing, pruning, and best.yaml reproducing the best
trial. Tiny U-Nets on generated photos; the commands run as users run them."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from fashionseg.experiments.tune.space import SpaceError, load_space

FASHIONSEG = str(Path(sys.executable).with_name("fashionseg"))
TINY = {
    "model": "unet",
    "width": 4,
    "size": 32,
    "epochs": 2,
    "workers": 0,
    "batch_size": 4,
    "val_fraction": 0.25,
    "tensorboard": False,
}


def write_space(path: Path, search: dict, fixed: dict | None = None, **extra) -> Path:
    fixed = {k: v for k, v in {**TINY, **(fixed or {})}.items() if k not in search}
    path.write_text(yaml.safe_dump({"fixed": fixed, "search": search, **extra}))
    return path


def tune(cwd: Path, *args, env: dict | None = None, check: bool = True):
    env = dict(os.environ, FASHIONSEG_CACHE=str(cwd / "cache"), **(env or {}))
    done = subprocess.run(
        [FASHIONSEG, "tune", *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True
    )
    if check:
        assert done.returncode == 0, done.stderr[-1500:]
    return done


def trials_csv(folder: Path) -> list[dict]:
    return list(csv.DictReader(open(folder / "trials.csv")))


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    from fashionseg.synth.writer import synth

    return synth(tmp_path_factory.mktemp("tune-data"), images=12, size="48x64", seed=3, workers=1)


# -- the search space ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "space, words",
    [
        ({"search": {"lr": [0.1]}, "fixed": {"nonsense": 1}}, ["fixed.nonsense"]),
        ({"search": {"los": ["ce"]}}, ["search.los", "not a training config key"]),
        ({"search": {"loss": ["ce", "hinge"]}}, ["loss=hinge", "ce, focal, dice"]),
        ({"search": {"lr": {"low": 0, "high": 1, "log": True}}}, ["search.lr", "low"]),
        ({"search": {"lr": {"low": 1, "high": 0.1}}}, ["above high"]),
        ({"search": {"out": ["a"]}}, ["search.out", "set by tune"]),
        ({"search": {}}, ["search is empty"]),
        ({"search": {"lr": [0.1]}, "study": {"pruner": "asha"}}, ["study.pruner"]),
        ({"search": {"lr": [0.1]}, "enqueue": [{"loss": "ce"}]}, ["enqueue names loss"]),
        ({"search": {"lr": [0.1]}, "fixed": {"lr": 0.2}}, ["both fixed and searched"]),
    ],
)
def test_a_bad_space_names_the_file_and_key(tmp_path, space, words):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space))
    with pytest.raises(SpaceError) as e:
        load_space(path)
    message = str(e.value)
    assert str(path) in message and "\n" not in message
    for word in words:
        assert word in message, message


def test_space_suggests_each_kind_and_finds_val_list_beside_it(tmp_path):
    import optuna

    (tmp_path / "val.txt").write_text("a\n")
    path = write_space(
        tmp_path / "space.yaml",
        {
            "lr": {"low": 1e-4, "high": 1e-2, "log": True},
            "width": {"low": 4, "high": 12, "step": 4},
            "loss": ["ce", "dice"],
        },
        fixed={"val_list": "val.txt"},
    )
    space = load_space(path)
    assert space.val_list == str((tmp_path / "val.txt").resolve())
    study = optuna.create_study(direction="maximize")
    seen = []
    for _ in range(12):
        trial = study.ask()
        params = space.suggest(trial)
        config = space.config(params, data="d", out="o")
        seen.append(params)
        assert 1e-4 <= config.lr <= 1e-2 and config.width in (4, 8, 12)
        assert isinstance(params["width"], int) and config.loss in ("ce", "dice")
        study.tell(trial, 0.0)
    assert len({p["lr"] for p in seen}) == 12  # a continuous range, not a grid


# -- searches from the command line -----------------------------------------------------------


@pytest.mark.slow
def test_two_workers_share_a_study_which_a_rerun_continues_and_best_yaml_trains(photos, tmp_path):
    space = write_space(
        tmp_path / "space.yaml",
        {"lr": {"low": 3e-3, "high": 3e-2, "log": True}, "loss": ["ce", "focal"]},
    )
    out = tmp_path / "t"
    done = tune(tmp_path, "--data", photos, "--out", out, "--space", space, "--trials", 4,
                "--workers", 2)  # fmt: skip
    assert "best: trial" in done.stdout
    rows = trials_csv(out)
    assert sorted(int(r["number"]) for r in rows) == [0, 1, 2, 3]
    assert all(r["state"] in ("complete", "pruned") for r in rows)
    assert len({(r["lr"], r["loss"]) for r in rows}) == 4  # no trial ran twice
    logs = "".join(p.read_text() for p in (out / "logs").glob("worker-*.log"))
    assert logs.count("training unet") == 4  # both workers trained, four runs in all
    assert {p.name for p in (out / "logs").glob("*.log")} == {"worker-0.log", "worker-1.log"}
    for r in rows:  # each trial is an ordinary run folder on the fixed split
        run = out / "trials" / f"{int(r['number']):04d}"
        assert (run / "config.yaml").is_file() and (run / "history.csv").is_file()
        split = json.loads((run / "split.json").read_text())
        assert split["val"] == (out / "val.txt").read_text().split()
    first = {r["number"]: r["value"] for r in rows}
    stamp = (out / "trials" / "0000" / "history.csv").stat().st_mtime_ns

    tune(tmp_path, "--data", photos, "--out", out, "--space", space, "--trials", 6)
    rows = trials_csv(out)
    assert sorted(int(r["number"]) for r in rows) == list(range(6))  # continued, not restarted
    assert {r["number"]: r["value"] for r in rows if r["number"] in first} == first
    assert (out / "trials" / "0000" / "history.csv").stat().st_mtime_ns == stamp

    page = (out / "report.html").read_text()
    assert "Optimisation history" in page and "data:image/png;base64" in page
    assert "Parameter importances" in page and "Parallel coordinates" in page

    # best.yaml trains as is (in a process with one thread, as each worker had) and gives the
    # best trial's value again.
    best = max((r for r in rows if r["state"] == "complete"), key=lambda r: float(r["value"]))
    env = dict(os.environ, OMP_NUM_THREADS="1", FASHIONSEG_CACHE=str(tmp_path / "cache"))
    subprocess.run(
        [FASHIONSEG, "train", "--config", str(out / "best.yaml"), "--out", str(tmp_path / "b")],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert metrics["best_miou"] == pytest.approx(float(best["value"]), abs=1e-4)


@pytest.mark.slow
def test_a_clearly_worse_trial_is_pruned_at_an_epoch(photos, tmp_path):
    space = write_space(
        tmp_path / "space.yaml",
        {"lr": [0.01, 1e-9]},
        fixed={"epochs": 4, "optimizer": "adam", "width": 8},
        study={"startup_trials": 1, "warmup_epochs": 0, "sampler": "random"},
        enqueue=[{"lr": 0.01}, {"lr": 1e-9}],
    )
    out = tmp_path / "t"
    tune(tmp_path, "--data", photos, "--out", out, "--space", space, "--trials", 2)
    rows = {float(r["lr"]): r for r in trials_csv(out)}
    assert rows[0.01]["state"] == "complete" and rows[0.01]["epochs"] == "4"
    assert rows[1e-9]["state"] == "pruned"
    at = int(rows[1e-9]["pruned_at"])
    assert 1 <= at < 4 and int(rows[1e-9]["epochs"]) == at
    history = list(csv.DictReader(open(out / "trials" / "0001" / "history.csv")))
    assert len(history) == at  # the run stopped where the pruner said


SITECUSTOMIZE = """
import os, signal
if os.environ.get("TUNE_KILL_MARK"):
    import fashionseg.experiments.tune.objective as objective

    real = objective.train

    def train(config, resume=False, on_eval=None):
        def dying(epoch, metrics):
            answer = on_eval(epoch, metrics)
            mark = os.environ["TUNE_KILL_MARK"]
            if epoch == 2 and not os.path.exists(mark):
                open(mark, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)  # the machine is lost mid-trial
            return answer

        return real(config, resume=resume, on_eval=dying)

    objective.train = train
"""


@pytest.mark.slow
def test_a_trial_whose_worker_dies_is_failed_by_heartbeat_and_retried(photos, tmp_path):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    space = write_space(
        tmp_path / "space.yaml",
        {"lr": {"low": 3e-3, "high": 3e-2, "log": True}},
        fixed={"epochs": 4},
        study={"pruner": "none"},
    )
    out = tmp_path / "t"
    env = {"PYTHONPATH": str(hook), "TUNE_KILL_MARK": str(tmp_path / "killed")}
    done = tune(tmp_path, "--data", photos, "--out", out, "--space", space, "--trials", 3,
                "--workers", 2, "--heartbeat", 1, env=env)  # fmt: skip
    assert (tmp_path / "killed").exists()
    assert "died" in done.stderr  # said, not hidden; the study still completed
    rows = trials_csv(out)
    lost = [r for r in rows if r["state"] == "fail"]
    assert len(lost) == 1 and "heartbeat" in lost[0]["error"]
    retry = [r for r in rows if r["retry_of"] == lost[0]["number"]]
    assert len(retry) == 1 and retry[0]["state"] == "complete"
    assert retry[0]["lr"] == lost[0]["lr"]  # the same parameters tried again
    assert sum(r["state"] == "complete" for r in rows) == 3  # nothing lost, nothing twice
    # The retry went on from the lost trial's checkpoint (epoch 2), not from scratch.
    history = list(csv.DictReader(open(out / "trials" / f"{int(retry[0]['number']):04d}" /
                                      "history.csv")))  # fmt: skip
    lost_history = list(csv.DictReader(open(out / "trials" / f"{int(lost[0]['number']):04d}" /
                                           "history.csv")))  # fmt: skip
    assert [h["epoch"] for h in history] == ["1", "2", "3", "4"]
    assert history[:2] == lost_history[:2]


@pytest.mark.slow
def test_bad_storage_and_changed_space_are_one_line_errors(photos, tmp_path):
    space = write_space(tmp_path / "space.yaml", {"lr": [0.01]})
    done = tune(tmp_path, "--data", photos, "--out", tmp_path / "t", "--space", space,
                "--storage", "postgresql://nobody:secret@127.0.0.1:9/none", check=False)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("fashionseg tune: error: postgresql://nobody:***@127.0.0.1:9/none")
    assert "secret" not in done.stderr
    done = tune(tmp_path, "--data", tmp_path / "nowhere", "--out", tmp_path / "n",
                "--space", space, check=False)  # fmt: skip
    assert done.returncode == 2 and "nowhere: no such data folder" in done.stderr
    assert not (tmp_path / "n").exists()  # nothing made before the inputs were checked
    tune(tmp_path, "--data", photos, "--out", tmp_path / "t", "--space", space, "--trials", 1)
    other = write_space(tmp_path / "other.yaml", {"lr": [0.02]})
    done = tune(tmp_path, "--data", photos, "--out", tmp_path / "t", "--space", other,
                check=False)  # fmt: skip
    assert done.returncode == 2 and "another search space" in done.stderr.splitlines()[-1]


# -- PostgreSQL: two machines (two tune commands) on one study --------------------------------


def _pg_bin() -> Path | None:
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / "initdb").exists():
            return root
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@pytest.fixture
def postgres():
    """A real PostgreSQL server in a temporary folder, for the length of one test."""
    pytest.importorskip("psycopg", reason="psycopg missing: pip install 'fashionseg[tune]'")
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    # Not under pytest's tmp folder: that is private to its user, and as root the server must
    # run as the postgres user, which could not reach it.
    root = Path(tempfile.mkdtemp(prefix="fashionseg-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser to start PostgreSQL as another user")
        prefix = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    data = root / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def pg(*cmd):
        subprocess.run(prefix + [str(bin_dir / cmd[0]), *cmd[1:]], check=True,
                       capture_output=True, cwd=root)  # fmt: skip

    pg("initdb", "-D", str(data), "-A", "trust", "-U", "postgres")
    pg("pg_ctl", "-D", str(data), "-l", str(root / "log"), "-w", "-o",
       f"-p {port} -k {root} -h 127.0.0.1", "start")  # fmt: skip
    try:
        pg("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "tune")
        yield f"postgresql://postgres@127.0.0.1:{port}/tune"
    finally:
        pg("pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_two_machines_share_a_study_through_postgresql(photos, tmp_path, postgres):
    space = write_space(tmp_path / "space.yaml", {"lr": {"low": 3e-3, "high": 3e-2, "log": True}})
    env = dict(os.environ, FASHIONSEG_CACHE=str(tmp_path / "cache"))
    machines = [
        subprocess.Popen(
            [
                FASHIONSEG,
                "tune",
                "--data",
                str(photos),
                "--out",
                str(tmp_path / name),
                "--space",
                str(space),
                "--trials",
                "4",
                "--storage",
                postgres,
                "--study-name",
                "shared",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for name in ("a", "b")
    ]
    for m in machines:
        _, err = m.communicate(timeout=600)
        assert m.returncode == 0, err[-1500:]
    a, b = trials_csv(tmp_path / "a"), trials_csv(tmp_path / "b")
    assert sorted(int(r["number"]) for r in a) == [0, 1, 2, 3]
    assert {r["number"]: r["value"] for r in a} == {r["number"]: r["value"] for r in b}
    ran = {p.name for name in "ab" for p in (tmp_path / name / "trials").iterdir()}
    assert ran == {"0000", "0001", "0002", "0003"}  # each trial once, on one machine or the other
    # Both machines used the one split stored in the study.
    assert (tmp_path / "a" / "val.txt").read_text() == (tmp_path / "b" / "val.txt").read_text()


@pytest.mark.slow
def test_a_trial_can_be_a_ddp_run_that_the_pruner_stops_on_every_rank(photos, tmp_path):
    space = write_space(
        tmp_path / "space.yaml",
        {"lr": [0.01, 1e-9]},
        fixed={"epochs": 4, "optimizer": "adam", "width": 8, "batch_size": 2},
        study={"startup_trials": 1, "warmup_epochs": 0, "sampler": "random"},
        enqueue=[{"lr": 0.01}, {"lr": 1e-9}],
    )
    out = tmp_path / "t"
    tune(tmp_path, "--data", photos, "--out", out, "--space", space, "--trials", 2,
         "--procs-per-trial", 2)  # fmt: skip
    rows = {float(r["lr"]): r for r in trials_csv(out)}
    assert rows[0.01]["state"] == "complete" and rows[0.01]["epochs"] == "4"
    assert rows[1e-9]["state"] == "pruned"  # every rank stopped: the command did not hang
    log = (out / "logs" / "worker-0.log").read_text()
    assert log.count("device cpu x2") == 2  # both trials trained on two processes
    at = int(rows[1e-9]["pruned_at"])
    history = list(csv.DictReader(open(out / "trials" / "0001" / "history.csv")))
    assert len(history) == at < 4  # rank 0 alone wrote, up to the pruned epoch


def test_a_retry_of_a_retry_continues_the_latest_and_both_tries_are_lost():
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    from fashionseg.experiments.tune.storage import counts_toward_total, lost_trials, retry_of

    d = {"lr": FloatDistribution(0.1, 1)}

    def trial(number, state, history):
        t = create_trial(state=state, params={"lr": 0.5}, distributions=d,
                         value=0.1 if state == TrialState.COMPLETE else None,
                         system_attrs={"failed_trial": history[0], "retry_history": history}
                         if history else {})  # fmt: skip
        t.number = number
        return t

    first = trial(0, TrialState.FAIL, [])  # its worker died
    second = trial(1, TrialState.FAIL, [0])  # the retry's worker died too
    third = trial(2, TrialState.COMPLETE, [0, 1])
    errored = trial(3, TrialState.FAIL, [])  # failed by its own error: counts, not retried
    trials = [first, second, third, errored]
    assert retry_of(third) == 1 and retry_of(second) == 0 and retry_of(first) is None
    lost = lost_trials(trials)
    assert lost == {0, 1}
    assert [counts_toward_total(t, lost) for t in trials] == [False, False, True, True]
