"""Pair the two runs' samples by id, per metric, and average epochs within each sample.

Samples align on ``str(id)``: Inspect ids are ``int | str`` and a dataset re-read from a file
may turn ``1`` into ``"1"``, which is the same question, while ``"01"`` is a different one.
With several epochs the per-sample score is the mean over that sample's epochs: the question
is the unit of analysis, and treating (id, epoch) pairs as independent would shrink the error
bars (pseudo-replication). Per-epoch rows are still produced for inspection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inspect_mlflow.comparison._load import LoadedLog
from inspect_mlflow.comparison._types import ComparisonError, Direction, SampleComparison
from inspect_mlflow.comparison._values import NonNumeric, metric_values


@dataclass
class MetricScores:
    """One metric's numeric values on both sides: ``key → epoch → value``."""

    name: str
    scorer: str
    baseline: dict[str, dict[int, float]] = field(default_factory=dict)
    candidate: dict[str, dict[int, float]] = field(default_factory=dict)
    baseline_seen: bool = False
    candidate_seen: bool = False
    non_numeric: int = 0


@dataclass
class Alignment:
    """Sample ids of both runs and every metric's values."""

    ids: dict[str, int | str]
    """Alignment key → the id as the baseline spells it (else the candidate)."""
    order: list[str]
    aligned: list[str]
    missing: list[str]
    new: list[str]
    metrics: dict[str, MetricScores]


@dataclass
class QuestionPairs:
    """Epoch-averaged values of one metric for the samples scored on both sides."""

    keys: list[str]
    baseline: list[float]
    candidate: list[float]
    rows: list[SampleComparison]


def align(baseline: LoadedLog, candidate: LoadedLog) -> Alignment:
    """Index both runs by sample id and collect every metric's numeric values."""
    ids: dict[str, int | str] = {}
    metrics: dict[str, MetricScores] = {}
    keys: dict[str, list[str]] = {}
    for log in (baseline, candidate):
        side_keys: dict[str, None] = {}
        seen: set[tuple[str, int]] = set()
        for record in log.records:
            key = record.key
            if (key, record.epoch) in seen:
                raise ComparisonError(
                    f"{log.role} log {log.location} has two samples with id {key!r} "
                    f"(epoch {record.epoch}); ids that print the same cannot be told apart"
                )
            seen.add((key, record.epoch))
            ids.setdefault(key, record.id)
            side_keys[key] = None
            for name, scorer, number in metric_values(record.scores):
                scores = metrics.get(name)
                if scores is None:
                    scores = metrics[name] = MetricScores(name=name, scorer=scorer)
                if log is baseline:
                    scores.baseline_seen = True
                    target = scores.baseline
                else:
                    scores.candidate_seen = True
                    target = scores.candidate
                if isinstance(number, NonNumeric):
                    scores.non_numeric += 1
                else:
                    target.setdefault(key, {})[record.epoch] = number
        keys[log.role] = list(side_keys)
    in_candidate = set(keys[candidate.role])
    in_baseline = set(keys[baseline.role])
    aligned = [key for key in keys[baseline.role] if key in in_candidate]
    missing = [key for key in keys[baseline.role] if key not in in_candidate]
    new = [key for key in keys[candidate.role] if key not in in_baseline]
    return Alignment(
        ids=ids,
        order=keys[baseline.role] + new,
        aligned=aligned,
        missing=missing,
        new=new,
        metrics=metrics,
    )


def direction(baseline: float, candidate: float, threshold: float) -> Direction:
    """``regressed``/``improved`` when the score moved by more than ``threshold``.

    A relative tolerance of 1e-9 absorbs float noise from averaging epochs in different orders.
    """
    delta = candidate - baseline
    tolerance = threshold + 1e-9 * max(1.0, abs(baseline), abs(candidate))
    if delta < -tolerance:
        return "regressed"
    if delta > tolerance:
        return "improved"
    return "unchanged"


def question_pairs(scores: MetricScores, alignment: Alignment, threshold: float) -> QuestionPairs:
    """Epoch-averaged rows for every sample of the metric, and the paired values for tests."""
    pairs = QuestionPairs(keys=[], baseline=[], candidate=[], rows=[])
    for key in alignment.order:
        b_epochs = scores.baseline.get(key)
        c_epochs = scores.candidate.get(key)
        if b_epochs is None and c_epochs is None:
            continue
        b = _mean(b_epochs)
        c = _mean(c_epochs)
        pairs.rows.append(_row(alignment.ids[key], None, scores.name, b, c, threshold))
        if b is not None and c is not None:
            pairs.keys.append(key)
            pairs.baseline.append(b)
            pairs.candidate.append(c)
    return pairs


def epoch_rows(
    scores: MetricScores, alignment: Alignment, threshold: float
) -> list[SampleComparison]:
    """One row per sample × epoch of the metric."""
    rows: list[SampleComparison] = []
    for key in alignment.order:
        b_epochs = scores.baseline.get(key, {})
        c_epochs = scores.candidate.get(key, {})
        for epoch in sorted(b_epochs.keys() | c_epochs.keys()):
            rows.append(
                _row(
                    alignment.ids[key],
                    epoch,
                    scores.name,
                    b_epochs.get(epoch),
                    c_epochs.get(epoch),
                    threshold,
                )
            )
    return rows


def _mean(epochs: dict[int, float] | None) -> float | None:
    if not epochs:
        return None
    values = [epochs[epoch] for epoch in sorted(epochs)]
    return sum(values) / len(values)


def _row(
    id: int | str,
    epoch: int | None,
    name: str,
    baseline: float | None,
    candidate: float | None,
    threshold: float,
) -> SampleComparison:
    if baseline is None:
        return SampleComparison(id, epoch, name, None, candidate, None, "new")
    if candidate is None:
        return SampleComparison(id, epoch, name, baseline, None, None, "missing")
    return SampleComparison(
        id,
        epoch,
        name,
        baseline,
        candidate,
        candidate - baseline,
        direction(baseline, candidate, threshold),
    )
