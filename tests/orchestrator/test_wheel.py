"""The package from a built wheel, in a fresh virtualenv, run from another directory.

The wheel is built with ``pip wheel --no-deps`` and installed (``--no-deps``) into a new venv
made without ``--system-site-packages``. Its dependencies come from this environment through a
directory of links to every installed distribution *except* inspect-mlflow itself (so neither
the checkout nor its editable install can be imported), which keeps the test offline and fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from .conftest import Workspace, by_kind, make_workspace, output

REPO = Path(__file__).resolve().parents[2]


def run(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def dependency_links(target: Path) -> None:
    """Links to this environment's installed packages, minus inspect-mlflow and .pth hooks."""
    site = Path(sysconfig.get_paths()["purelib"])
    target.mkdir()
    for entry in site.iterdir():
        name = entry.name.lower()
        if name.startswith(
            ("inspect_mlflow", "_editable_impl_inspect_mlflow", "__editable__")
        ) or name.endswith(".pth"):
            continue
        (target / entry.name).symlink_to(entry)


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_from_another_directory(tmp_path: Path, store_template: Path) -> None:
    dist = tmp_path / "dist"
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, REPO)
    assert built.returncode == 0, output(built)
    (wheel,) = dist.glob("inspect_mlflow-*.whl")

    venv = tmp_path / "venv"
    created = run(sys.executable, "-m", "venv", "--without-pip", venv)
    assert created.returncode == 0, output(created)
    python = venv / "bin" / "python"
    installed = run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--no-deps",
        "--no-index",
        "-q",
        wheel,
    )
    assert installed.returncode == 0, output(installed)
    venv_site = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        ).stdout.strip()
    )
    dependency_links(tmp_path / "deps")
    (venv_site / "zz_dependencies.pth").write_text(str(tmp_path / "deps") + "\n")

    ws: Workspace = make_workspace(tmp_path / "elsewhere", store_template)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "PYTHONPATH", "VIRTUAL_ENV"))
    }
    env["INSPECT_DISPLAY"] = "none"
    where = run(
        python,
        "-c",
        "import inspect_mlflow, inspect_mlflow._conf as c; print(inspect_mlflow.__file__); print(c.conf_dir())",
        cwd=ws.path,
        env=env,
    )
    assert where.returncode == 0, output(where)
    module, conf = where.stdout.split()
    assert module.startswith(str(venv_site)) and conf == str(venv_site / "inspect_mlflow" / "conf")

    result = run(
        venv / "bin" / "inspect-mlflow", "+sweep=models", "task.args.samples=3", "check=none",
        f"mlflow.tracking_uri={ws.uri}", cwd=ws.path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, output(result)
    runs = ws.runs()
    assert len(by_kind(runs, "sweep")) == 1
    assert sorted(r.data.tags["inspect.model"] for r in by_kind(runs, "task")) == [
        "simulated/fast", "simulated/medium", "simulated/strong", "simulated/weak",
    ]  # fmt: skip
    assert len(by_kind(runs, "comparison")) == 3
