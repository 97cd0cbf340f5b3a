"""Locate the packaged Hydra config tree (``conf/``).

In a built wheel the tree is installed as ``inspect_mlflow/conf``; in a source
checkout (including editable installs) it is the repository's top-level ``conf/``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def conf_dir() -> Path:
    """Absolute path of the config tree shipped with the package."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "conf", package_dir.parent / "conf"):
        if (candidate / "config.yaml").is_file() or (candidate / "artifacts").is_dir():
            return candidate
    raise FileNotFoundError(
        f"inspect_mlflow: the packaged config tree is missing (looked in {package_dir / 'conf'} "
        f"and {package_dir.parent / 'conf'}); reinstall the package"
    )
