"""The command line: help, dry runs, user config dirs and the refusal of bad input (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inspect_mlflow._orchestrator._app import run_app

from .conftest import USER_CONF

_PROBE = """
import json, os, sys
from inspect_mlflow._orchestrator._app import run_app
code = run_app(sys.argv[1:])
print("RESULT " + json.dumps({
    "code": code,
    "mlflow": sorted(m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")),
    "inspect_ai": "inspect_ai" in sys.modules,
    "model_constructed": "inspect_mlflow._simulated._provider" in sys.modules,
    "files": sorted(os.listdir(".")),
}))
"""


def probe(cwd: Path, *args: str) -> tuple[dict[str, object], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "INSPECT_MLFLOW_T"))}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = next((line for line in result.stdout.splitlines() if line.startswith("RESULT ")), None)
    assert line is not None, result.stdout + result.stderr
    return json.loads(line[len("RESULT ") :]), result.stdout


def test_help_imports_neither_mlflow_nor_inspect(tmp_path: Path) -> None:
    found, out = probe(tmp_path, "--help")
    assert found == {
        "code": 0,
        "mlflow": [],
        "inspect_ai": False,
        "model_constructed": False,
        "files": [],
    }
    assert (
        "Config groups" in out
        and "sweep: grid, models" in out
        and "check BASELINE CANDIDATE" in out
    )


def test_dry_run_prints_the_grid_and_touches_nothing(tmp_path: Path) -> None:
    found, out = probe(tmp_path, "+sweep=grid", "dry_run=true", "eval.epochs=2")
    assert found == {
        "code": 0,
        "mlflow": [],
        "inspect_ai": True,
        "model_constructed": False,
        "files": [],
    }
    assert (
        "8 grid points, 2 task(s): arithmetic, capitals; 2 model(s): simulated/strong, simulated/weak"
        in out
    )
    assert "Total: 160 sample runs (samples x epochs)" in out
    assert "Comparisons (4):" in out
    assert (
        "  capitals simulated/weak model.temperature=0.7  vs  capitals simulated/strong model.temperature=0.7"
        in out
    )
    assert f"MLflow: sqlite:///{tmp_path / 'mlflow.db'} (experiment 'inspect_ai')" in out


def test_user_config_dir_adds_options_without_copying_ours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (
        run_app(["--config-dir", str(USER_CONF), "model=mymodel", "task=capitals", "dry_run=true"])
        == 0
    )
    out = capsys.readouterr().out
    assert "0  capitals  mine" in out and "20       1       20" in out
    assert run_app(["--config-dir", str(USER_CONF), "+sweep=planted", "dry_run=true"]) == 0
    out = capsys.readouterr().out
    assert "Sweep 'planted'" in out and "Total: 36 sample runs" in out
    assert "arithmetic simulated/bad  vs  arithmetic simulated/good" in out
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model.temperature=hot"], "model.temperature: Input should be a valid number"),
        (["eval.limt=3"], "Could not override 'eval.limt'"),
        (["model=nope"], "Could not find 'model/nope'"),
        (
            ["+sweep=models", "compare.baseline.model=nope"],
            "compare.baseline: {model: nope} matches no grid point",
        ),
        (
            ["-m", "+sweep=models,grid"],
            "sweeping over several sweep files in one command is not supported",
        ),
        (
            ["+sweep=models", "+sweep.params.eval.limit=[1,2]"],
            "eval.limit applies to the whole eval set",
        ),
        (["task.name=missing.py@x"], "task.name: task file 'missing.py' does not exist"),
        (
            ["model.name=nosuch/model"],
            "model.name: 'nosuch/model' is not a known model: no model provider 'nosuch' is installed",
        ),
        (
            ["+task.args.nope=1"],
            "task.args: 'inspect_mlflow/arithmetic' has no parameter(s) nope (its parameters: samples, seed, tools)",
        ),
        (
            ["+check.gates=[{metric: accuracy, max_drop: 0.1}]", "+sweep=models"],
            "check.gates[0].metric: 'accuracy' is not a scorer",
        ),
    ],
)
def test_bad_input_exits_2_before_anything_runs(
    tmp_path: Path,
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_app([*args, f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}"]) == 2
    captured = capsys.readouterr()
    assert message in captured.out + captured.err
    assert not (tmp_path / "logs").exists()
    assert not (tmp_path / "mlflow.db").exists()


def test_no_samples_in_common_is_refused_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    task_file = Path(__file__).parent / "offset_task.py"
    args = [
        "--config-dir",
        str(USER_CONF),
        "task=numbered",
        f"task.name={task_file}@numbered",
        "+sweep=models",
        "+sweep.params.task.args.start=[1,100]",
        "+compare.baseline.task.args.start=1",
        "check=none",
        f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
    ]
    assert run_app(args) == 2
    out = capsys.readouterr().out
    assert (
        "compare: numbered simulated/strong task.args.start=100 and its baseline numbered "
        "simulated/strong task.args.start=1 have no samples in common (baseline ids 1, 2, 3, "
        "candidate ids 100, 101, 102)"
    ) in out
    assert os.listdir(tmp_path) == []


def test_multirun_dry_run_creates_no_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = [
        "-m",
        "model=simulated,simulated_weak",
        "dry_run=true",
        f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
    ]
    assert run_app(args) == 0
    out = capsys.readouterr().out
    assert out.count("(dry run: nothing is run or written)") == 2
    assert "0  arithmetic  simulated/weak" in out
    assert os.listdir(tmp_path) == ["multirun"]  # Hydra's own sweep dir only


def test_a_config_that_selects_multirun_is_run_as_hydra_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain command line is composed once (not twice as ``hydra.main`` does); a config
    that sets ``hydra.mode: MULTIRUN`` itself still gets Hydra's multirun."""
    conf = tmp_path / "conf" / "sweep"
    conf.mkdir(parents=True)
    (conf / "modes.yaml").write_text(
        "# @package _global_\n"
        "hydra:\n  mode: MULTIRUN\n  sweeper:\n    params:\n      model: simulated,simulated_weak\n"
    )
    monkeypatch.chdir(tmp_path)
    assert run_app(["--config-dir", str(tmp_path / "conf"), "+sweep=modes", "dry_run=true"]) == 0
    out = capsys.readouterr().out
    assert out.count("(dry run: nothing is run or written)") == 2
    assert "0  arithmetic  simulated/weak" in out and "0  arithmetic  simulated/default" in out


def test_bad_input_from_the_command_line_prints_one_message_and_nothing_later(
    tmp_path: Path,
) -> None:
    """The writer started ahead of time outlives the refused command quietly (``run``
    returns only once it has exited too: it holds the same stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    result = subprocess.run(
        [sys.executable, "-m", "inspect_mlflow", "model.temperature=hot",
         f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        "inspect_mlflow: error: invalid configuration: model.temperature: Input should be a "
        "valid number, unable to parse string as a number (got 'hot'); set model.temperature "
        "to a number (e.g. 0.5)"
    ]
    assert result.stderr == ""
    assert os.listdir(tmp_path) == []
