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

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from inspect_ai.log import (
    EvalLog,
    EvalSample,
    EvalSampleSummary,
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


@dataclass
class SampleRecord:
    """The parts of one sample × epoch a comparison uses."""

    id: int | str
    epoch: int
    scores: dict[str, Any]
    """Score name → raw ``Score.value`` (empty when the sample was not scored)."""
    metadata: dict[str, Any]
    total_time: float | None
    working_time: float | None
    cost: float | None
    tokens: int
    error: str | None
    source: EvalSampleSummary | EvalSample = field(repr=False)

    @property
    def key(self) -> str:
        """Alignment key: ``1`` and ``"1"`` are the same sample, ``"01"`` and ``"1"`` are not."""
        return str(self.id)

    def summary(self) -> EvalSampleSummary:
        """The sample's summary (what a ``sample_filter`` callable receives)."""
        if isinstance(self.source, EvalSampleSummary):
            return self.source
        return self.source.summary()


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


def load_log(log: LogInput, role: str) -> LoadedLog:
    """Load one side; raises :class:`ComparisonError` naming the log when it cannot be used."""
    if isinstance(log, EvalLog):
        return _load_in_memory(log, role)
    if not isinstance(log, str | PathLike):
        raise ComparisonError(
            f"{role} must be a path to an .eval/.json log or an EvalLog, not {type(log).__name__}"
        )
    location = str(Path(log)) if "://" not in str(log) else str(log)
    if "://" not in location and not Path(location).is_file():
        raise ComparisonError(f"{role} log not found: {location}")
    try:
        header = read_eval_log(location, header_only=True)
        summaries = read_eval_log_sample_summaries(location)
    except ComparisonError:
        raise
    except Exception as ex:  # Inspect raises many types for unreadable files
        raise ComparisonError(f"cannot read {role} log {location}: {ex}") from None
    records = [_from_summary(summary) for summary in summaries]
    return _loaded(header, location, role, records, full_metadata=False)


def _load_in_memory(log: EvalLog, role: str) -> LoadedLog:
    location = log.location or "<in-memory EvalLog>"
    if log.samples:
        records = [_from_sample(sample) for sample in log.samples]
        return _loaded(log, location, role, records, full_metadata=True)
    if log.location and ("://" in log.location or Path(log.location).is_file()):
        # a header-only log (e.g. from eval_set): read its samples' summaries from disk
        loaded = load_log(log.location, role)
        if loaded.records:
            return loaded
    raise ComparisonError(f"{role} log {location} has no samples")


def _loaded(
    header: EvalLog, location: str, role: str, records: list[SampleRecord], full_metadata: bool
) -> LoadedLog:
    if not records:
        raise ComparisonError(f"{role} log {location} has no samples")
    epochs = max(record.epoch for record in records)
    return LoadedLog(
        role=role,
        location=location,
        task=header.eval.task,
        model=header.eval.model,
        epochs=epochs,
        records=records,
        full_metadata=full_metadata,
    )


def _from_summary(summary: EvalSampleSummary) -> SampleRecord:
    cost, tokens = _usage(summary.model_usage)
    return SampleRecord(
        id=summary.id,
        epoch=summary.epoch,
        scores={name: score.value for name, score in (summary.scores or {}).items()},
        metadata=summary.metadata,
        total_time=summary.total_time,
        working_time=summary.working_time,
        cost=cost,
        tokens=tokens,
        error=summary.error,
        source=summary,
    )


def _from_sample(sample: EvalSample) -> SampleRecord:
    cost, tokens = _usage(sample.model_usage)
    return SampleRecord(
        id=sample.id,
        epoch=sample.epoch,
        scores={name: score.value for name, score in (sample.scores or {}).items()},
        metadata=sample.metadata,
        total_time=sample.total_time,
        working_time=sample.working_time,
        cost=cost,
        tokens=tokens,
        error=sample.error.message if sample.error is not None else None,
        source=sample,
    )


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
