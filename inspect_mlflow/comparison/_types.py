"""Result types of a baseline-vs-candidate comparison (plain dataclasses, no heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Direction = Literal["improved", "regressed", "unchanged", "new", "missing"]
"""How one sample moved: ``new`` = scored only in the candidate, ``missing`` = only in the baseline."""


class ComparisonError(ValueError):
    """Bad input to a comparison; the message names the log, scorer or option at fault."""


@dataclass(slots=True)
class SampleComparison:
    """One sample's score under one metric, baseline vs candidate.

    Rows in :attr:`ComparisonResult.samples` are per epoch (``epoch`` is the epoch number);
    rows in :attr:`ComparisonResult.questions` average each sample's epochs first
    (``epoch`` is ``None``) and are what the statistics and counts are based on.
    """

    id: int | str
    epoch: int | None
    scorer: str
    """Metric name: the scorer's name, or ``scorer/key`` for dict-valued scores."""
    baseline_score: float | None
    candidate_score: float | None
    delta: float | None
    """``candidate_score - baseline_score`` (``None`` unless both are present)."""
    direction: Direction


@dataclass
class MetricComparison:
    """One metric (a scorer, or one key of a dict-valued scorer) compared across the two runs.

    ``baseline_value`` and ``candidate_value`` are means over the *paired* samples (each
    sample's epochs averaged first), so ``delta`` is exactly the mean paired difference that
    the test, the confidence interval and the effect size are about.
    """

    name: str
    scorer: str
    baseline_value: float | None
    candidate_value: float | None
    delta: float | None
    relative_delta: float | None
    """``delta / |baseline_value|``; ``None`` when the baseline value is 0."""
    significant: bool
    """``p_adjusted < significance`` (the multiple-comparison adjusted p-value)."""
    p_value: float | None
    """Unadjusted two-sided p-value of the paired test."""
    ci_lower: float | None
    ci_upper: float | None
    """Two-sided ``1 - significance`` confidence interval for ``delta`` (per comparison)."""
    effect_size: float | None = None
    """Cohen's d_z of the paired differences (see :func:`cohens_dz`)."""
    test: str | None = None
    """``mcnemar-exact``, ``paired-t``, ``clustered-t``, ``paired-bootstrap`` or ``cluster-bootstrap``."""
    n: int = 0
    """Paired samples (sample ids scored numerically on both sides)."""
    p_adjusted: float | None = None
    standard_error: float | None = None
    df: float | None = None
    """Degrees of freedom of the t reference distribution (t tests only)."""
    clusters: int | None = None
    mde: float | None = None
    """Minimum detectable effect at this ``n``: ``(z_{1-α/2} + z_{power}) · SE``."""
    improved: int = 0
    regressed: int = 0
    unchanged: int = 0
    missing: int = 0
    new: int = 0
    non_numeric: int = 0
    """Score values (sample × epoch) that are not numbers and were left out, never counted."""
    comparable: bool = True
    verdict: str = ""
    note: str | None = None


@dataclass
class RunStats:
    """Cost, tokens and latency of one run over the compared samples (all epochs)."""

    samples: int = 0
    errors: int = 0
    total_cost: float | None = None
    """Sum of ``ModelUsage.total_cost``; ``None`` when no sample carries a cost."""
    total_tokens: int = 0
    latency_p50: float | None = None
    latency_p95: float | None = None
    """Percentiles of ``total_time`` (seconds, per sample × epoch)."""
    working_p50: float | None = None
    working_p95: float | None = None
    """Percentiles of ``working_time`` (seconds)."""


@dataclass
class CostComparison:
    """Cost and latency of both runs, with candidate-minus-baseline deltas."""

    baseline: RunStats
    candidate: RunStats

    @property
    def cost_delta(self) -> float | None:
        return _delta(self.baseline.total_cost, self.candidate.total_cost)

    @property
    def tokens_delta(self) -> int:
        return self.candidate.total_tokens - self.baseline.total_tokens

    @property
    def latency_p50_delta(self) -> float | None:
        return _delta(self.baseline.latency_p50, self.candidate.latency_p50)

    @property
    def latency_p95_delta(self) -> float | None:
        return _delta(self.baseline.latency_p95, self.candidate.latency_p95)

    @property
    def working_p50_delta(self) -> float | None:
        return _delta(self.baseline.working_p50, self.candidate.working_p50)

    @property
    def working_p95_delta(self) -> float | None:
        return _delta(self.baseline.working_p95, self.candidate.working_p95)


def _delta(baseline: float | None, candidate: float | None) -> float | None:
    return None if baseline is None or candidate is None else candidate - baseline


@dataclass
class ComparisonResult:
    """Everything :func:`compare_evals` found, with a one-screen :meth:`summary`."""

    baseline_log: str
    candidate_log: str
    baseline_task: str
    candidate_task: str
    baseline_model: str
    candidate_model: str
    metrics: list[MetricComparison]
    samples: list[SampleComparison]
    """Per-epoch rows (one per sample id × epoch × metric)."""
    questions: list[SampleComparison] = field(default_factory=list)
    """Epoch-averaged rows (one per sample id × metric, ``epoch=None``)."""
    aligned_ids: list[int | str] = field(default_factory=list)
    missing_ids: list[int | str] = field(default_factory=list)
    """Sample ids in the baseline but not the candidate."""
    new_ids: list[int | str] = field(default_factory=list)
    """Sample ids in the candidate but not the baseline."""
    cost: CostComparison | None = None
    significance: float = 0.05
    correction: str = "holm"
    method: str = "auto"
    cluster: str | None = None
    regression_threshold: float = 0.0
    baseline_epochs: int = 1
    candidate_epochs: int = 1
    filtered_out: int = 0
    """Sample ids excluded by ``sample_filter``."""

    @property
    def aligned_count(self) -> int:
        """Samples (ids) present in both runs."""
        return len(self.aligned_ids)

    @property
    def missing_count(self) -> int:
        """Samples (ids) in the baseline that the candidate lacks."""
        return len(self.missing_ids)

    @property
    def new_count(self) -> int:
        """Samples (ids) in the candidate that the baseline lacks."""
        return len(self.new_ids)

    def _rows(self) -> list[SampleComparison]:
        return self.questions or self.samples

    @property
    def regressions(self) -> list[SampleComparison]:
        """Epoch-averaged rows that dropped by more than ``regression_threshold``."""
        return [row for row in self._rows() if row.direction == "regressed"]

    @property
    def improvements(self) -> list[SampleComparison]:
        """Epoch-averaged rows that rose by more than ``regression_threshold``."""
        return [row for row in self._rows() if row.direction == "improved"]

    @property
    def unchanged(self) -> list[SampleComparison]:
        """Epoch-averaged rows that moved by no more than ``regression_threshold``."""
        return [row for row in self._rows() if row.direction == "unchanged"]

    @property
    def regressed_ids(self) -> list[int | str]:
        """Samples that regressed on at least one metric (each sample once, in log order)."""
        return self._unique_ids(self.regressions)

    @property
    def improved_ids(self) -> list[int | str]:
        """Samples that improved on at least one metric (each sample once, in log order)."""
        return self._unique_ids(self.improvements)

    @property
    def win_rate(self) -> float | None:
        """Share of decisive samples the candidate wins.

        A sample is a win when it improved on some metric and regressed on none, a loss in the
        opposite case; samples with no change, or mixed changes, are ties and left out.
        ``None`` when no sample is decisive.
        """
        wins, losses = self.wins_losses()
        return wins / (wins + losses) if wins + losses else None

    def wins_losses(self) -> tuple[int, int]:
        """``(wins, losses)`` counted in samples, as used by :attr:`win_rate`."""
        improved = set(self.improved_ids)
        regressed = set(self.regressed_ids)
        return len(improved - regressed), len(regressed - improved)

    def _unique_ids(self, rows: list[SampleComparison]) -> list[int | str]:
        position = {str(id): i for i, id in enumerate(self.aligned_ids)}
        unique: dict[str, int | str] = {}
        for row in rows:
            unique.setdefault(str(row.id), row.id)
        return sorted(unique.values(), key=lambda id: position.get(str(id), len(position)))

    def metric(self, name: str) -> MetricComparison:
        """The comparison of one metric by name (raises ``KeyError``)."""
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(name)

    def summary(self) -> str:
        """One screen of plain text: runs, counts, metric table, verdicts, cost and latency."""
        from inspect_mlflow.comparison._summary import summary_text

        return summary_text(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (floats kept as floats, including ``inf`` effect sizes)."""
        from inspect_mlflow.comparison._summary import result_to_dict

        return result_to_dict(self)

    def to_json(self, path: str | Path | None = None, indent: int | None = 2) -> str:
        """Strict JSON (non-finite floats written as the strings ``"inf"``/``"-inf"``/``"nan"``).

        Writes to ``path`` as well when given.
        """
        from inspect_mlflow.comparison._summary import result_to_json

        text = result_to_json(self, indent=indent)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def plot(self, path: str | Path) -> Path:
        """Write a PNG of each metric's delta with its confidence interval; returns the path."""
        from inspect_mlflow.comparison._plot import plot_comparison

        return plot_comparison(self, path)
