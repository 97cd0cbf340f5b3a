"""Read what a comparison needs from a log: header facts and one record per sample × epoch.

Logs given as paths are read through their sample *summaries* (fast: no messages or events),
never ``read_eval_log()`` (slow) or ``read_eval_log_samples()`` (quadratic in the sample count).
An in-memory ``EvalLog`` with samples is used as is.

Summaries keep score values intact but thin sample metadata: strings go through
``textwrap.shorten`` (whitespace collapsed, cut to ~1k characters with ``...``) and larger values
are replaced by a placeholder. :func:`complete_metadata` re-reads just the affected samples when
a metadata key the comparison depends on (the ``cluster`` key) may have been cut.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from inspect_ai.log import (
    EvalLog,
    EvalSample,
    EvalSampleSummary,
    EvalSpec,
    read_eval_log,
    read_eval_log_sample_summaries,
    read_eval_log_samples_by_id,
)

from inspect_mlflow.comparison._types import ComparisonError

LogInput = str | PathLike[str] | EvalLog
"""A log file path (``.eval`` or ``.json``, local or remote) or an ``EvalLog``."""

SUMMARY_REMOVED = "Key removed from summary (> 1k)"
"""What Inspect puts in a summary's metadata in place of a value larger than 1k."""

_SAMPLE_EXCLUDES = {"events", "messages", "attachments", "store"}


KeepSample = Callable[[int | str, Callable[[], EvalSampleSummary]], bool]
"""Sample filter as the loader applies it: ``keep(id, summary)``, the summary made on demand."""


@dataclass(slots=True)
class SampleRecord:
    """The parts of one sample × epoch a comparison uses.

    Records hold no reference to Inspect's summary objects, so those are freed as soon as a log
    is loaded: on large logs that halves the memory held and the garbage collector's work.
    """

    id: int | str
    epoch: int
    scores: dict[str, Any]
    """Score name → raw ``Score.value`` (empty when the sample was not scored)."""
    metadata: dict[str, Any]
    """Only the metadata key the comparison needs (the ``cluster`` key), if any."""
    total_time: float | None
    working_time: float | None
    cost: float | None
    tokens: int
    error: str | None
    excluded: bool = False
    """Rejected by the ``sample_filter``."""

    @property
    def key(self) -> str:
        """Alignment key: ``1`` and ``"1"`` are the same sample, ``"01"`` and ``"1"`` are not."""
        return str(self.id)


@dataclass
class LoadedLog:
    """Header facts and per-sample records of one side of the comparison."""

    role: str
    location: str
    task: str
    model: str
    epochs: int
    records: list[SampleRecord]
    full_metadata: bool
    """True when metadata came from full samples (in-memory log), not thinned summaries."""


def load_log(
    log: LogInput, role: str, keep: KeepSample | None = None, metadata_key: str | None = None
) -> LoadedLog:
    """Load one side; raises :class:`ComparisonError` naming the log when it cannot be used.

    Args:
        log: Path or ``EvalLog``.
        role: ``"baseline"`` or ``"candidate"`` (used in messages).
        keep: Sample filter; rejected samples are marked ``excluded``.
        metadata_key: The one metadata key to keep on each record.
    """
    if isinstance(log, EvalLog):
        return _load_in_memory(log, role, keep, metadata_key)
    if not isinstance(log, str | PathLike):
        raise ComparisonError(
            f"{role} must be a path to an .eval/.json log or an EvalLog, not {type(log).__name__}"
        )
    location = str(Path(log)) if "://" not in str(log) else str(log)
    if "://" not in location and not Path(location).is_file():
        raise ComparisonError(f"{role} log not found: {location}")
    try:
        spec = read_eval_spec(location)
        summaries = read_eval_log_sample_summaries(location)
    except Exception as ex:  # Inspect raises many types for unreadable files
        raise ComparisonError(f"cannot read {role} log {location}: {ex}") from None
    records = [_from_summary(summary, keep, metadata_key) for summary in summaries]
    del summaries
    return _loaded(spec, location, role, records, full_metadata=False)


def read_eval_spec(location: str) -> EvalSpec:
    """The log's ``EvalSpec`` (task, model, ...).

    ``read_eval_log(header_only=True)`` also parses ``reductions.json`` (one entry per sample
    and scorer): on a 10,000-sample log that is ~0.3 s, a sixth of reading the summaries. For a
    local ``.eval`` file only the header member is read, with Inspect's zip reader; anything
    unexpected falls back to the public API.
    """
    if location.endswith(".eval") and "://" not in location:
        try:
            return _eval_spec_from_zip(location)
        except Exception:
            pass
    return read_eval_log(location, header_only=True).eval


def _eval_spec_from_zip(location: str) -> EvalSpec:
    from inspect_ai._util._async import run_coroutine
    from inspect_ai._util.async_zip import AsyncZipReader
    from inspect_ai._util.asyncfiles import AsyncFilesystem

    async def read() -> Any:
        async with AsyncFilesystem() as fs:
            reader = AsyncZipReader(fs, location)
            names = {entry.filename for entry in (await reader.entries()).entries}
            member = "header.json" if "header.json" in names else "_journal/start.json"
            return json.loads(await reader.read_member_fully(member))

    return EvalSpec.model_validate(run_coroutine(read())["eval"])


def _load_in_memory(
    log: EvalLog, role: str, keep: KeepSample | None, metadata_key: str | None
) -> LoadedLog:
    location = log.location or "<in-memory EvalLog>"
    if log.samples:
        records = [_from_sample(sample, keep, metadata_key) for sample in log.samples]
        return _loaded(log.eval, location, role, records, full_metadata=True)
    if log.location and ("://" in log.location or Path(log.location).is_file()):
        # a header-only log (e.g. from eval_set): read its samples' summaries from disk
        loaded = load_log(log.location, role, keep, metadata_key)
        if loaded.records:
            return loaded
    raise ComparisonError(f"{role} log {location} has no samples")


def _loaded(
    spec: EvalSpec, location: str, role: str, records: list[SampleRecord], full_metadata: bool
) -> LoadedLog:
    if not records:
        raise ComparisonError(f"{role} log {location} has no samples")
    epochs = max(record.epoch for record in records)
    return LoadedLog(
        role=role,
        location=location,
        task=spec.task,
        model=spec.model,
        epochs=epochs,
        records=records,
        full_metadata=full_metadata,
    )


def _from_summary(
    summary: EvalSampleSummary, keep: KeepSample | None, metadata_key: str | None
) -> SampleRecord:
    cost, tokens = _usage(summary.model_usage)
    return SampleRecord(
        id=summary.id,
        epoch=summary.epoch,
        scores={name: score.value for name, score in (summary.scores or {}).items()},
        metadata=_pick(summary.metadata, metadata_key),
        total_time=summary.total_time,
        working_time=summary.working_time,
        cost=cost,
        tokens=tokens,
        error=summary.error,
        excluded=keep is not None and not keep(summary.id, lambda: summary),
    )


def _from_sample(
    sample: EvalSample, keep: KeepSample | None, metadata_key: str | None
) -> SampleRecord:
    cost, tokens = _usage(sample.model_usage)
    return SampleRecord(
        id=sample.id,
        epoch=sample.epoch,
        scores={name: score.value for name, score in (sample.scores or {}).items()},
        metadata=_pick(sample.metadata, metadata_key),
        total_time=sample.total_time,
        working_time=sample.working_time,
        cost=cost,
        tokens=tokens,
        error=sample.error.message if sample.error is not None else None,
        excluded=keep is not None and not keep(sample.id, sample.summary),
    )


def _pick(metadata: dict[str, Any], key: str | None) -> dict[str, Any]:
    return {key: metadata[key]} if key is not None and key in metadata else {}


def _usage(model_usage: dict[str, Any]) -> tuple[float | None, int]:
    cost: float | None = None
    tokens = 0
    for usage in model_usage.values():
        tokens += usage.total_tokens or 0
        if usage.total_cost is not None:
            cost = (cost or 0.0) + usage.total_cost
    return cost, tokens


def may_be_thinned(value: Any) -> bool:
    """Whether a summary's metadata value may differ from the sample's (cut or removed)."""
    return isinstance(value, str) and (value == SUMMARY_REMOVED or value.endswith("..."))


def complete_metadata(log: LoadedLog, records: list[SampleRecord], key: str) -> None:
    """Replace possibly-thinned ``metadata[key]`` of ``records`` with the full sample's value.

    Reads only those samples (without events, messages, attachments or store) for ``.eval``
    logs; a ``.json`` log has to be read whole.
    """
    if log.full_metadata or not records:
        return
    wanted = [(record.id, record.epoch) for record in records]
    try:
        if log.location.endswith(".eval"):
            samples = read_eval_log_samples_by_id(
                log.location, wanted, exclude_fields=_SAMPLE_EXCLUDES
            )
        else:
            full = read_eval_log(log.location)
            by_key = {(str(s.id), s.epoch): s for s in full.samples or []}
            samples = [by_key[(str(id), epoch)] for id, epoch in wanted]
    except Exception as ex:
        raise ComparisonError(
            f"cannot read the full metadata key {key!r} from {log.role} log {log.location}: {ex}"
        ) from None
    for record, sample in zip(records, samples, strict=True):
        record.metadata = {**record.metadata, key: sample.metadata.get(key)}
