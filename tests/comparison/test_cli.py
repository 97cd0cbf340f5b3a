"""The ``compare`` command line: output, files, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inspect_mlflow.comparison._cli import main
from tests.comparison.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]


def test_prints_summary_and_writes_files(
    scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json = tmp_path / "out" / "result.json"
    out_json.parent.mkdir()
    out_png = tmp_path / "delta.png"
    code = main(
        [
            scenario.baseline.qa.location,
            scenario.candidate.qa.location,
            "--scorer",
            "match",
            "--scorer",
            "quality",
            "--json",
            str(out_json),
            "--plot",
            str(out_png),
            "--correction",
            "bh",
            "--cluster",
            "group",
            "--significance",
            "0.1",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Comparison of task 'qa'" in captured.out
    assert (
        "Benjamini-Hochberg-adjusted p" in captured.out and "clustered by 'group'" in captured.out
    )
    assert "90% CI" in captured.out
    data = json.loads(out_json.read_text())
    assert [m["name"] for m in data["metrics"]] == ["match", "quality"]
    assert data["metrics"][1]["test"] == "clustered-t"
    assert data["significance"] == 0.1 and data["correction"] == "bh"
    assert out_png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}", "{cand}"], "baseline log not found"),
        (["{base}", "{empty}"], "has no samples"),
        (["{base}", "{cand}", "--scorer", "nope"], "scorer 'nope' is not in either log"),
        (["{base}", "{other}"], "the logs are of different tasks"),
        (["{base}", "{cand}", "--correction", "bonferroni"], "invalid choice"),
        (["{base}"], "the following arguments are required: candidate"),
        (["{base}", "{cand}", "--cluster", "nope"], "cluster key 'nope'"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(
    scenario: Scenario,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    values = {
        "base": scenario.baseline.qa.location,
        "cand": scenario.candidate.qa.location,
        "other": scenario.candidate.ids.location,
        "empty": str(scenario.empty),
        "missing": str(tmp_path / "missing.eval"),
    }
    code = main([arg.format(**values) for arg in args])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("python -m inspect_mlflow compare: error: ")
    assert message in lines[0]


def test_allow_different_tasks_and_fail_on_regression(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                scenario.baseline.qa.location,
                scenario.candidate.ids.location,
                "--scorer",
                "match",
                "--allow-different-tasks",
            ]
        )
        == 0
    )
    # candidate as baseline: quality drops significantly
    swapped = [scenario.candidate.qa.location, scenario.baseline.qa.location, "--scorer", "quality"]
    assert main(swapped) == 0
    assert main([*swapped, "--fail-on-regression"]) == 1
    assert "regressed" in capsys.readouterr().out


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--allow-different-tasks" in capsys.readouterr().out


def test_runs_as_a_process(scenario: Scenario, tmp_path: Path) -> None:
    code = (
        "import sys; from inspect_mlflow.comparison._cli import main; sys.exit(main(sys.argv[1:]))"
    )
    ok = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            scenario.baseline.qa.location,
            scenario.candidate.qa.location,
            "--scorer",
            "match",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "mcnemar-exact" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "nope.eval"), scenario.candidate.qa.location],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1].endswith(f"not found: {tmp_path / 'nope.eval'}")


def test_import_loads_neither_mlflow_nor_matplotlib() -> None:
    code = (
        "import sys, inspect_mlflow.comparison; "
        "print(sorted(m for m in ('mlflow', 'matplotlib') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert proc.stdout.strip() == "[]"
