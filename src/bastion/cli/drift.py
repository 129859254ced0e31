"""``bastion drift fit REFERENCE -o ref.profile`` and ``bastion drift REFERENCE|PROFILE CURRENT``.

Parsed with argparse (a fast verb, like ``scan``): drift checks run in pipelines on every batch of data. Exit codes:
0 no drift, 1 drift found, 2 bad input or options.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bastion.cli import argparsing
from bastion.cli.output import write_report

DESCRIPTION = ("Test current data for drift from reference data or a profile (`bastion drift fit REFERENCE -o "
               "FILE` makes one); exit 0 no drift, 1 drift, 2 bad input.")
FORMATS = ("table", "json", "html")
PROFILE_MARK = b"bastion-drift-profile"


def _columns(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _add_profile_options(parser: argparse.ArgumentParser) -> None:
    """Options that shape a reference profile (for ``fit``, and for ``drift`` given reference data)."""
    group = parser.add_argument_group("reference profile")
    group.add_argument("--columns", type=_columns, help="Only these columns (comma separated).")
    group.add_argument("--ignore", type=_columns, default=[], help="Never these columns (identifiers, timestamps).")
    group.add_argument("--categorical", type=_columns, default=[], help="Read these columns as categories.")
    group.add_argument("--target", help="The label column (performance is measured when predictions exist).")
    group.add_argument("--prediction", help="The model's prediction column.")
    group.add_argument("--probability", type=_columns, default=[],
                       help="Predicted probability column(s): one for binary models, one per class otherwise.")
    group.add_argument("--latency", help="Response time column, in seconds.")
    group.add_argument("--bins", type=argparsing.positive_int, default=1024, help="Reference-quantile bins.")
    group.add_argument("--no-multivariate", dest="multivariate", action="store_false",
                       help="Skip the PCA reconstruction test.")
    group.add_argument("--seed", type=int, default=0, help="Seed for sampling (results are reproducible).")
    group.add_argument("-w", "--workers", type=int, help="Processes to use (-1: one per CPU).")
    group.add_argument("--dask", help="Dask scheduler address, or 'local' for a LocalCluster of --workers.")


def fit_parser() -> argparse.ArgumentParser:
    """``bastion drift fit`` options."""
    parser = argparsing.parser("bastion drift fit", "Profile reference data for later drift tests. The profile "
                               "holds no rows (only counts, moments and bin edges) unless --keep-sample is given.")
    parser.add_argument("reference", type=Path, metavar="REFERENCE", help="CSV, TSV, Parquet, JSON Lines or a folder.")
    parser.add_argument("-o", "--output", type=Path, required=True, help="Profile file to write (atomically).")
    parser.add_argument("--keep-sample", action="store_true",
                        help="Also store a sample of reference rows (for --domain-classifier). The profile then "
                             "holds raw rows: treat it like the data.")
    _add_profile_options(parser)
    return parser


def test_parser() -> argparse.ArgumentParser:
    """``bastion drift`` options."""
    parser = argparsing.parser("bastion drift", DESCRIPTION)
    parser.add_argument("reference", type=Path, metavar="REFERENCE", help="Reference data, or a profile file.")
    parser.add_argument("current", type=Path, metavar="CURRENT", help="Current data (file or folder).")
    parser.add_argument("-f", "--format", choices=FORMATS, default="table", help="Report format.")
    parser.add_argument("-o", "--output", type=Path, help="Write the report here (atomically) instead of stdout.")
    parser.add_argument("--alpha", type=float, default=0.05, help="Family-wise error rate (or FDR with --correction"
                        " bh) of the verdict.")
    parser.add_argument("--correction", choices=("holm", "bh", "none"), default="holm",
                        help="Multiple-test correction across all tests of the run.")
    parser.add_argument("--min-effect", type=float, default=0.0, help="Also require this effect size before a column"
                        " counts as drifted (Wasserstein/std for numbers, Jensen-Shannon for categories).")
    parser.add_argument("--domain-classifier", action="store_true",
                        help="Also train a classifier to tell reference rows from current rows (needs reference "
                             "data, or a profile fitted with --keep-sample).")
    _add_profile_options(parser)
    return parser


def _monitor_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"columns": args.columns, "ignore": args.ignore, "categorical": args.categorical, "target": args.target,
            "prediction": args.prediction, "probability": args.probability, "latency": args.latency,
            "bins": args.bins, "multivariate": args.multivariate, "seed": args.seed}


def is_profile(path: Path) -> bool:
    """True when ``path`` is a profile file written by ``drift fit`` (its JSON names the format near the start)."""
    if not path.is_file():
        return False
    with open(path, "rb") as handle:
        head = handle.read(4096)
    return head.lstrip().startswith(b"{") and PROFILE_MARK in head


def _check_output(output: Path | None) -> None:
    """Refuse an output in a missing folder before any work is done."""
    if output is not None and str(output) != "-" and str(output.parent) and not output.parent.is_dir():
        raise ValueError(f"--output folder {output.parent} does not exist")


def _fail(verb: str, message: object) -> int:
    print(f"bastion {verb}: {message}", file=sys.stderr)
    return 2


def fit_main(argv: list[str]) -> int:
    """Run ``bastion drift fit``."""
    from bastion.compute import executor_for
    from bastion.data.files import DataError
    from bastion.monitor import DriftMonitor

    try:
        args = fit_parser().parse_args(argv)
        _check_output(args.output)
        with executor_for(args.workers, args.dask) as executor:
            monitor = DriftMonitor(**_monitor_options(args), executor=executor).fit(args.reference)
            monitor.save(args.output, include_sample=args.keep_sample)
    except (argparsing.UsageError, DataError, ValueError, OSError) as exc:
        return _fail("drift fit", exc)
    profile = monitor.profile_
    assert profile is not None
    print(f"bastion drift fit: profiled {profile.rows:,} rows x {len(profile.columns)} columns into {args.output}",
          file=sys.stderr)
    if args.keep_sample:
        print("bastion drift fit: WARNING: the profile holds a sample of raw reference rows (--keep-sample)",
              file=sys.stderr)
    return 0


def watch_parser() -> argparse.ArgumentParser:
    """``bastion drift watch`` options."""
    parser = argparsing.parser("bastion drift watch", "Replay current data as a stream through online detectors "
                               "(windowed chi-square per column, CUSUM for --latency) and print one JSON line per "
                               "alarm: {\"row\", \"column\", \"detector\"}. Exit 0 no alarm, 1 alarms, 2 bad input.")
    parser.add_argument("reference", type=Path, metavar="REFERENCE", help="Reference data, or a profile file.")
    parser.add_argument("current", type=Path, metavar="CURRENT", help="Current data, in arrival order.")
    parser.add_argument("--window", type=argparsing.positive_int, default=200, help="Observations per window.")
    parser.add_argument("--ert", type=float, default=10_000,
                        help="Expected rows between false alarms, for the whole monitor (default 10,000).")
    parser.add_argument("-o", "--output", type=Path, help="Write the alarms here (atomically) instead of stdout.")
    _add_profile_options(parser)
    return parser


def watch_main(argv: list[str]) -> int:
    """Run ``bastion drift watch``."""
    import json

    from bastion.data.files import DataError
    from bastion.monitor import DriftMonitor
    from bastion.monitor.columns import partitions
    from bastion.monitor.streaming import StreamMonitor

    try:
        args = watch_parser().parse_args(argv)
        _check_output(args.output)
        if is_profile(args.reference):
            monitor = DriftMonitor.from_profile(args.reference)
        else:
            monitor = DriftMonitor(**_monitor_options(args)).fit(args.reference)
        assert monitor.profile_ is not None
        stream = StreamMonitor(monitor.profile_, args.columns, window=args.window, ert=args.ert, seed=args.seed)
        alarms = [alarm for part in partitions(args.current, "current") for batch in part.batches()
                  for alarm in stream.update(batch)]
    except (argparsing.UsageError, DataError, ValueError, OSError) as exc:
        return _fail("drift watch", exc)
    lines = [json.dumps({"row": a.row, "column": a.column, "detector": a.detector}) + "\n" for a in alarms]
    write_report("".join(lines), args.output)
    print(f"bastion drift watch: {len(alarms)} alarms in {stream.rows_seen:,} rows", file=sys.stderr)
    return 1 if alarms else 0


def main(argv: list[str]) -> int:
    """Run ``bastion drift ...``: ``fit`` profiles, ``watch`` replays a stream, anything else tests."""
    if argv[:1] == ["fit"]:
        return fit_main(argv[1:])
    if argv[:1] == ["watch"]:
        return watch_main(argv[1:])
    from bastion.compute import executor_for
    from bastion.data.files import DataError
    from bastion.monitor import DriftMonitor

    try:
        args = test_parser().parse_args(argv)
        _check_output(args.output)
        test_options = {"alpha": args.alpha, "correction": args.correction, "min_effect": args.min_effect,
                        "domain_classifier": args.domain_classifier}
        with executor_for(args.workers, args.dask) as executor:
            if is_profile(args.reference):
                monitor = DriftMonitor.from_profile(args.reference, **test_options, executor=executor)
            else:
                monitor = DriftMonitor(**_monitor_options(args), **test_options, executor=executor)
                monitor.fit(args.reference)
            report = monitor.test(args.current)
    except (argparsing.UsageError, DataError, ValueError, OSError) as exc:
        return _fail("drift", exc)
    write_report(_render(report, args.format), args.output)
    return 1 if report.drift else 0


def _render(report: Any, fmt: str) -> str:
    if fmt == "json":
        from bastion.monitor.text import render_json

        return render_json(report)
    if fmt == "html":
        from bastion.monitor.html import render_html

        return render_html(report)
    from bastion.monitor.text import render_table

    return render_table(report)
