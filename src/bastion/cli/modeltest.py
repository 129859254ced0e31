"""``bastion test robustness | poisoning``: attack a model, and look for poisoned training data (over bastion.model).

``bastion test fairness`` is registered on this group from ``bastion.cli.fairness``.

Exit codes: 0 done (and, with ``--fail-under``, robust enough), 1 below ``--fail-under`` or suspects found by
``poisoning --fail-on-suspects``, 2 bad input or a model the load gate refused.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(name="test", help="Test a model: adversarial robustness, training-data poisoning, fairness.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
FORMATS = ("table", "json", "html")


def _fail(verb: str, message: object) -> typer.Exit:
    typer.echo(f"bastion test {verb}: {message}", err=True)
    return typer.Exit(2)


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _floats(verb: str, values: list[str] | None) -> list[float]:
    try:
        return [float(part) for part in _split(values)]
    except ValueError:
        raise _fail(verb, f"--eps takes numbers, got {values}") from None


def _load(verb: str, model: Path, data: Path, target: str, features: list[str], input_shape: str | None,
          allow_unsafe: bool) -> tuple[Any, Any]:
    """The model through the load gate, and the labelled data; errors become exit 2 with the reason."""
    from bastion.data.files import DataError
    from bastion.model.base import ModelError
    from bastion.model.dataset import parse_shape, read_labelled
    from bastion.model.loading import load_model
    from bastion.supplychain.gate import UnsafeLoadError

    logging.basicConfig(level=logging.WARNING, format="bastion: %(message)s")
    try:
        shape = parse_shape(input_shape) if input_shape else None
        adapter = load_model(model, input_shape=shape or _tabular_shape(data, target, features),
                             allow_unsafe=allow_unsafe)
        labelled = read_labelled(data, target, features=features or None, input_shape=shape, text=adapter.text)
        if not adapter.text and labelled.x.shape[1:] != adapter.input_shape:
            raise ModelError(f"{model}: takes samples shaped {adapter.input_shape}, the data gives "
                             f"{labelled.x.shape[1:]} (set --input-shape or --features)")
        return adapter, labelled
    except UnsafeLoadError as exc:
        raise _fail(verb, f"{exc}\n(override with --allow-unsafe-load, which is logged)") from None
    except (DataError, ModelError, ValueError, OSError, ImportError) as exc:
        raise _fail(verb, exc) from None


def _tabular_shape(data: Path, target: str, features: list[str]) -> tuple[int, ...] | None:
    """For a torch model without --input-shape: one flat sample of the data's feature columns."""
    if features:
        return (len(features),)
    from bastion.data.files import iter_batches

    try:
        first = next(iter(iter_batches(data)))
    except (StopIteration, ValueError):
        return None
    return (len([n for n in first.schema.names if n != target]),)


def _render(report: Any, fmt: str, kind: str) -> str:
    """``report`` as JSON, or through ``bastion.model.html.<kind>_html`` / ``bastion.model.render.<kind>_table``."""
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    from importlib import import_module

    module, suffix = ("bastion.model.html", "html") if fmt == "html" else ("bastion.model.render", "table")
    text: str = getattr(import_module(module), f"{kind}_{suffix}")(report)
    return text


def _emit(text: str, output: Path | None) -> None:
    from bastion.cli.output import write_report

    write_report(text, output)


@app.command("robustness")
def robustness_command(
    model: Path = typer.Option(..., "--model", "-m", help="Model file: scikit-learn pickle/joblib/skops, "
                               "TorchScript or PyTorch module, ONNX. Scanned before it is loaded."),
    data: Path = typer.Option(..., "--data", "-d", help="CSV, TSV, Parquet or JSON Lines with features and target."),
    target: str = typer.Option(..., "--target", "-t", help="The label column."),
    attack: list[str] | None = typer.Option(None, "--attack", "-a", help="Attacks, comma separated (default: "
                                            "chosen for the model); see docs/robustness.md."),
    eps: list[str] | None = typer.Option(None, "--eps", help="Budgets in input units, comma separated (default: "
                                         "1, 3, 10, 30% of the median feature range)."),
    features: list[str] | None = typer.Option(None, "--features", help="Feature columns (default: all but target)."),
    input_shape: str | None = typer.Option(None, "--input-shape", help="Shape of one sample, e.g. 1,8,8 for "
                                           "flattened images."),
    samples: int = typer.Option(500, "--samples", "-n", min=1, help="Test at most this many rows (a seeded "
                                "random sample)."),
    immutable: list[str] | None = typer.Option(None, "--immutable", help="Columns an attack may not change."),
    integer: list[str] | None = typer.Option(None, "--integer", help="Columns that take whole numbers only."),
    clip: str | None = typer.Option(None, "--clip", help="LO,HI bounds for every feature (default: each "
                                    "feature's range in the data)."),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling and attacks."),
    fail_under: float | None = typer.Option(None, "--fail-under", help="Exit 1 when accuracy under any attack "
                                            "within a budget falls below this."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or html."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here (atomically)."),
    allow_unsafe_load: bool = typer.Option(False, "--allow-unsafe-load", help="Load the model even if the "
                                           "model-file scan finds something (dangerous; recorded)."),
) -> None:
    """Attack the model on labelled data; report accuracy under attack per attack and budget.

    JSON: {"model", "samples", "clean_accuracy", "attacks": [{"name", "norm", "eps", "accuracy_under_attack",
    "success_rate", "median_perturbation", "queries", "seconds"}]}.
    """
    from bastion.model.robustness import RobustnessTest

    if fmt not in FORMATS:
        raise _fail("robustness", f"--format must be one of {', '.join(FORMATS)}")
    adapter, labelled = _load("robustness", model, data, target, _split(features), input_shape, allow_unsafe_load)
    try:
        x, y = _sample(adapter, labelled, samples, seed)
        constraints = _constraints(adapter, labelled, x, _split(immutable), _split(integer), clip)
        report = RobustnessTest(_split(attack) or None, _floats("robustness", eps) or None, seed=seed,
                                constraints=constraints).run(adapter, x, y)
    except ValueError as exc:
        raise _fail("robustness", exc) from None
    _emit(_render(report, fmt, "robustness"), output)
    if fail_under is not None and any(row.eps is not None and row.accuracy_under_attack < fail_under
                                      for row in report.attacks):
        raise typer.Exit(1)


def _sample(adapter: Any, labelled: Any, samples: int, seed: int) -> tuple[Any, Any]:
    import numpy as np

    y = adapter.encode_labels(labelled.labels)
    if len(y) <= samples:
        return labelled.x, y
    rows = np.sort(np.random.default_rng(seed).choice(len(y), size=samples, replace=False))
    return labelled.x[rows], y[rows]


def _constraints(adapter: Any, labelled: Any, x: Any, immutable: list[str], integer: list[str],
                 clip: str | None) -> Any:
    from bastion.model.constraints import Constraints

    if adapter.text:
        if immutable or integer or clip:
            raise ValueError("--immutable, --integer and --clip apply to numeric features, not text")
        return None
    names = list(labelled.features)
    index = {name: i for i, name in enumerate(names)}
    unknown = [c for c in [*immutable, *integer] if c not in index]
    if unknown:
        raise ValueError(f"no feature column {unknown[0]!r}")
    if clip is not None:
        try:
            low, high = (float(v) for v in clip.split(","))
        except ValueError:
            raise ValueError(f"--clip takes LO,HI, got {clip!r}") from None
        base = Constraints.box(low, high)
        return Constraints(lower=base.lower, upper=base.upper, immutable=tuple(index[c] for c in immutable),
                           integer=tuple(index[c] for c in integer), names=tuple(names))
    image = len(adapter.input_shape) > 1
    if image:  # one box for every pixel: the data's overall range
        return Constraints(lower=x.min(), upper=x.max(), immutable=tuple(index[c] for c in immutable),
                           integer=tuple(index[c] for c in integer), names=tuple(names))
    return Constraints.from_data(labelled.x, names=names, immutable=[index[c] for c in immutable],
                                 integer=[index[c] for c in integer])


@app.command("poisoning")
def poisoning_command(
    model: Path = typer.Option(..., "--model", "-m", help="The model trained on DATA (scanned before loading)."),
    data: Path = typer.Option(..., "--data", "-d", help="The training data: CSV, TSV, Parquet or JSON Lines."),
    target: str = typer.Option(..., "--target", "-t", help="The label column."),
    features: list[str] | None = typer.Option(None, "--features", help="Feature columns (default: all but target)."),
    input_shape: str | None = typer.Option(None, "--input-shape", help="Shape of one sample, e.g. 1,8,8."),
    cv_model: str = typer.Option("random_forest", "--cv-model", help="Model for the out-of-fold probabilities: "
                                 "random_forest, hist_gradient_boosting or logistic_regression."),
    folds: int = typer.Option(5, "--folds", min=2, help="Cross-validation folds for the label-issue search."),
    layers: list[str] | None = typer.Option(None, "--layers", help="Hidden layers for the backdoor analysis "
                                            "(default: the early ones)."),
    no_backdoor: bool = typer.Option(False, "--no-backdoor", help="Skip the backdoor analysis."),
    seed: int = typer.Option(0, "--seed", help="Seed for folds and clustering."),
    top: int | None = typer.Option(None, "--top", min=1, help="List at most this many label issues and suspects."),
    fail_on_suspects: bool = typer.Option(False, "--fail-on-suspects", help="Exit 1 when a class is suspected of "
                                          "a backdoor or label issues are found."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or html."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here (atomically)."),
    allow_unsafe_load: bool = typer.Option(False, "--allow-unsafe-load", help="Load the model even if the "
                                           "model-file scan finds something (dangerous; recorded)."),
) -> None:
    """List training rows with suspect labels, and rows and the class a backdoor may hide in.

    JSON: {"label_issues": [{"row", "given", "suggested", "score"}], "backdoor": {"suspected_class",
    "class_scores", "suspects": [{"row", "score"}]}} (backdoor is null unless the model is a neural network).
    """
    from bastion.model.poisoning.audit import PoisoningTest

    if fmt not in FORMATS:
        raise _fail("poisoning", f"--format must be one of {', '.join(FORMATS)}")
    adapter, labelled = _load("poisoning", model, data, target, _split(features), input_shape, allow_unsafe_load)
    try:
        report = PoisoningTest(cv_model=cv_model, folds=folds, seed=seed, backdoor=not no_backdoor,
                               layers=_split(layers) or None).run(adapter, labelled.x, labelled.labels)
    except ValueError as exc:
        raise _fail("poisoning", exc) from None
    if top is not None:
        report = _truncate(report, top)
    _emit(_render(report, fmt, "poisoning"), output)
    suspected = report.backdoor is not None and report.backdoor.suspected_class is not None
    if fail_on_suspects and (suspected or report.label_issues):
        raise typer.Exit(1)


def _truncate(report: Any, top: int) -> Any:
    from dataclasses import replace

    backdoor = report.backdoor and replace(report.backdoor, suspects=report.backdoor.suspects[:top])
    return replace(report, label_issues=report.label_issues[:top], backdoor=backdoor)
