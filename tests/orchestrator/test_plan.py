"""Config validation, grid expansion and comparison planning (pure: no Inspect, no MLflow)."""

from __future__ import annotations

from typing import Any

import pytest

from inspect_mlflow._orchestrator._errors import ConfigError
from inspect_mlflow._orchestrator._plan import expand, plan_comparisons
from inspect_mlflow._orchestrator._schema import CompareSpec, validate_config


def config(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "task": {
            "name": "inspect_mlflow/arithmetic",
            "label": "arithmetic",
            "args": {"samples": 5},
        },
        "model": {"name": "simulated/base", "args": {"accuracy": 0.7}, "temperature": 0.2},
        "mlflow": {"enabled": False},
    }
    data.update(overrides)
    return data


def sweep(**values: Any) -> dict[str, Any]:
    return {"name": "s", **values}


def test_single_point_without_sweep() -> None:
    plan = expand(validate_config(config()))
    assert plan.name == "single"
    assert [p.axes for p in plan.points] == [{"task": "arithmetic", "model": "simulated/base"}]
    assert plan.points[0].model.generate_config() == {"temperature": 0.2}


def test_grid_is_tasks_by_models_by_params_and_entries_inherit_generate_keys() -> None:
    data = config(
        sweep=sweep(
            models=[
                "simulated/a",
                {"name": "simulated/b", "args": {"accuracy": 0.9}, "label": "b"},
            ],
            tasks=[
                {"name": "inspect_mlflow/capitals", "label": "capitals"},
                "inspect_mlflow/arithmetic",
            ],
            params={"eval.epochs": [1, 2], "model": {"max_tokens": [64]}},
        )
    )
    plan = expand(validate_config(data))
    assert len(plan.points) == 2 * 2 * 2
    first = plan.points[0]
    assert first.axes == {
        "task": "capitals",
        "model": "simulated/a",
        "eval.epochs": 1,
        "model.max_tokens": 64,
    }
    # entries stand alone (no args from the `model` config) but keep its generate config
    assert first.model.args == {}
    assert first.model.generate_config() == {"temperature": 0.2, "max_tokens": 64}
    b = next(p for p in plan.points if p.axes["model"] == "b")
    assert b.model.args == {"accuracy": 0.9} and b.matches("model", "simulated/b")
    assert [p.eval.epochs for p in plan.points[:2]] == [1, 2]
    assert len({p.key for p in plan.points}) == 8
    # the identity (and so the default log dir) is stable and changes with the grid
    assert expand(validate_config(data)).identity == plan.identity
    data["eval"] = {"limit": 3}
    assert expand(validate_config(data)).identity != plan.identity


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"eval.limit": [1, 2]}, "eval.limit applies to the whole eval set"),
        (
            {"mlflow.experiment_name": ["a"]},
            "only model.*, task.* and eval.<key> can be sweep axes",
        ),
        ({"model.name": ["x"]}, "list the models under sweep.models"),
        ({"model.temperature": ["hot"]}, "sweep.params.model.temperature[0]"),
    ],
)
def test_bad_sweep_axes_are_refused_with_the_key(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("*", r"\*").replace("[", r"\[")):
        expand(validate_config(config(sweep=sweep(params=params))))


def test_duplicate_points_and_labels_are_refused() -> None:
    with pytest.raises(ConfigError, match="two identical grid points"):
        expand(validate_config(config(sweep=sweep(params={"eval.epochs": [1, 1]}))))
    two = [{"name": "simulated/a", "label": "x"}, {"name": "simulated/b", "label": "x"}]
    with pytest.raises(
        ConfigError, match=r"sweep.models\[0\] and sweep.models\[1\] are both labelled 'x'"
    ):
        expand(validate_config(config(sweep=sweep(models=two))))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"model": {"name": "simulated/x", "temperature": "hot"}},
            "model.temperature: Input should be a valid number",
        ),
        ({"eval": {"epochs": 0}}, "eval.epochs: Input should be greater than or equal to 1"),
        ({"eval": {"limt": 3}}, "eval.limt: unknown key"),
        (
            {"compare": {"correction": "bonferroni"}},
            "compare.correction: Input should be 'holm', 'bh' or 'none'",
        ),
        ({"check": {"gates": [{"metric": "match"}]}}, "sets no criterion"),
        ({"mlflow": {"tracking_uri": ""}}, "mlflow.tracking_uri is empty"),
    ],
)
def test_invalid_values_name_their_key(overrides: dict[str, Any], message: str) -> None:
    data = config(**overrides)
    if "mlflow" in overrides:
        data["mlflow"] = {"enabled": True, **overrides["mlflow"]}
    with pytest.raises(ConfigError, match=message):
        validate_config(data)


def test_wrong_type_message_says_how_to_fix_it() -> None:
    with pytest.raises(ConfigError) as raised:
        validate_config(config(model={"name": "simulated/x", "temperature": "hot"}))
    assert str(raised.value) == (
        "invalid configuration: model.temperature: Input should be a valid number, unable to parse "
        "string as a number (got 'hot'); set model.temperature to a number (e.g. 0.5)"
    )


def grid() -> list[Any]:
    data = config(
        sweep=sweep(
            models=["simulated/a", "simulated/b", "simulated/c"],
            tasks=["inspect_mlflow/arithmetic", "inspect_mlflow/capitals"],
            params={"model.temperature": [0.0, 0.5]},
        )
    )
    return expand(validate_config(data), aliases={"model": ["ignored-for-entries"]}).points


def describe(pairs: list[Any]) -> list[tuple[str, str]]:
    return [(base.describe(), cand.describe()) for base, cand in pairs]


def test_candidates_pair_with_the_baseline_on_the_same_other_axes() -> None:
    pairs = plan_comparisons(grid(), CompareSpec(baseline={"model": "simulated/a"}))
    assert len(pairs) == 2 * 2 * 2
    for base, cand in pairs:
        assert base.axes["model"] == "simulated/a" and cand.axes["model"] != "simulated/a"
        assert base.axes["task"] == cand.axes["task"]
        assert base.axes["model.temperature"] == cand.axes["model.temperature"]


def test_default_baseline_is_the_first_value_of_the_first_varying_axis_other_than_task() -> None:
    pairs = plan_comparisons(grid(), CompareSpec())
    assert {base.axes["model"] for base, _ in pairs} == {"simulated/a"}
    # compare along another axis, only for some candidates
    pairs = plan_comparisons(
        grid(),
        CompareSpec(baseline={"model.temperature": 0}, candidates={"model": ["simulated/b"]}),
    )
    assert describe(pairs) == [
        (
            "inspect_mlflow/arithmetic simulated/b model.temperature=0.0",
            "inspect_mlflow/arithmetic simulated/b model.temperature=0.5",
        ),
        (
            "inspect_mlflow/capitals simulated/b model.temperature=0.0",
            "inspect_mlflow/capitals simulated/b model.temperature=0.5",
        ),
    ]


def test_selectors_that_match_nothing_are_config_errors() -> None:
    points = grid()
    with pytest.raises(
        ConfigError,
        match=r"compare.baseline: \{model: simulated/z\} matches no grid point; model takes the values simulated/a, simulated/b, simulated/c",
    ):
        plan_comparisons(points, CompareSpec(baseline={"model": "simulated/z"}))
    with pytest.raises(
        ConfigError, match="compare.baseline.seed: 'seed' is not an axis of this grid"
    ):
        plan_comparisons(points, CompareSpec(baseline={"seed": 1}))
    with pytest.raises(
        ConfigError, match="compare.candidates: {model: simulated/z} matches no grid point"
    ):
        plan_comparisons(
            points,
            CompareSpec(baseline={"model": "simulated/a"}, candidates={"model": "simulated/z"}),
        )
    assert plan_comparisons(points, CompareSpec(enabled=False)) == []
