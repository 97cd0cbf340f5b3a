"""Hydra's single run, composing the configuration once.

``hydra.main`` composes the whole configuration twice for a plain run: first only to read
``hydra.mode`` (``Hydra.get_mode``), then for the run itself. Composition is most of the
orchestrator's start-up (~0.15-0.2 s each here), so for the common command line (no flag but
``--config-dir``/``--config-name``) :func:`run_once` does what ``hydra.main`` does minus that
first pass. This uses Hydra internals (pinned to hydra-core 1.3); whenever the fast path does
not apply, or anything about it is not as expected, the caller falls back to ``hydra.main``,
which gives Hydra's own behaviour, messages and exit codes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

_FLAGS_WITH_VALUE = ("--config-dir", "-cd", "--config-name", "-cn")


def run_once(
    args: Sequence[str], config_path: str, config_name: str, task: Callable[[Any], None]
) -> bool:
    """Run ``task`` as Hydra's RUN mode would; ``False`` (nothing done) if the command line or
    the configuration need Hydra's full handling (help, ``--cfg``, multirun, ...)."""
    if not _plain(args):
        return False
    try:
        from hydra import version
        from hydra._internal.hydra import Hydra
        from hydra._internal.utils import (
            create_config_search_path,
            get_args_parser,
            run_and_report,
        )
        from hydra.core.config_search_path import SearchPathQuery
        from hydra.core.global_hydra import GlobalHydra
        from hydra.core.override_parser.overrides_parser import OverridesParser
    except ImportError:
        return False

    parsed = get_args_parser().parse_args(list(args))
    overrides = list(parsed.overrides)
    try:
        keys = [o.key_or_group for o in OverridesParser.create().parse_overrides(overrides)]
    except Exception:
        return False  # Hydra reports the syntax error itself
    if any(key.startswith("hydra.mode") or key.startswith("hydra/sweeper") for key in keys):
        return False

    version.setbase("1.3")
    search_path = create_config_search_path(config_path)
    if parsed.config_dir is not None:
        config_dir = os.path.abspath(parsed.config_dir)
        if not os.path.isdir(config_dir):
            return False  # Hydra's own message
        search_path.prepend(
            provider="command-line",
            path=f"file://{config_dir}",
            anchor=SearchPathQuery(provider="schema"),
        )
    started = False

    def started_task(cfg: Any) -> None:
        nonlocal started
        started = True
        task(cfg)

    name = parsed.config_name or config_name
    hydra = run_and_report(
        lambda: Hydra.create_main_hydra2(task_name="_app", config_search_path=search_path)
    )

    def attempt() -> bool:
        try:
            hydra.run(config_name=name, task_function=started_task, overrides=overrides)
        except AssertionError:
            if started:
                raise
            return False  # the configuration itself selects another mode: Hydra's full path
        return True

    try:
        # errors are reported as hydra.main reports them (message, exit code 1)
        done: bool = run_and_report(attempt)
    finally:
        GlobalHydra.instance().clear()
    return done


def _plain(args: Sequence[str]) -> bool:
    """Only overrides, ``--config-dir DIR`` and ``--config-name NAME``."""
    items = list(args)
    index = 0
    while index < len(items):
        arg = items[index]
        if arg in _FLAGS_WITH_VALUE:
            index += 2
            continue
        if any(arg.startswith(flag + "=") for flag in _FLAGS_WITH_VALUE):
            index += 1
            continue
        if arg.startswith("-"):
            return False
        index += 1
    return True
