"""Compare a candidate Inspect eval run with a baseline, with sound paired statistics.

```python
from inspect_mlflow.comparison import compare_evals

result = compare_evals("logs/baseline.eval", "logs/candidate.eval")
print(result.summary())
```

This package never imports mlflow: the orchestrator logs a :class:`ComparisonResult` itself.
"""

from inspect_mlflow.comparison._compare import CompareOptions, compare_evals
from inspect_mlflow.comparison._stats import adjust_p_values
from inspect_mlflow.comparison._types import (
    ComparisonError,
    ComparisonResult,
    CostComparison,
    Direction,
    MetricComparison,
    RunStats,
    SampleComparison,
)

__all__ = [
    "CompareOptions",
    "ComparisonError",
    "ComparisonResult",
    "CostComparison",
    "Direction",
    "MetricComparison",
    "RunStats",
    "SampleComparison",
    "adjust_p_values",
    "compare_evals",
]
