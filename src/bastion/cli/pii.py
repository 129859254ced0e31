"""``bastion pii detect | anonymize | deanonymize | keygen``: personal data in texts and tables (over bastion.data)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

app = typer.Typer(name="pii", help="Personal data in texts and tables: detect, anonymise, de-anonymise.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _fail(verb: str, message: object) -> typer.Exit:
    typer.echo(f"bastion pii {verb}: {message}", err=True)
    return typer.Exit(2)


def _split(values: list[str] | None) -> tuple[str, ...] | None:
    if not values:
        return None
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


@app.command("detect")
def detect_command(
    file: Path | None = typer.Argument(None, help="JSON Lines, CSV, TSV, Parquet or text file (one record per line)."),
    text: str | None = typer.Option(None, "--text", help="Search this one string instead of a file."),
    text_field: list[str] | None = typer.Option(None, "--text-field", help="Field(s) or column(s) to search "
                                                "(JSON Lines default: text; tables default: every text column)."),
    entities: list[str] | None = typer.Option(None, "--entities", "-e", help="Entity types to report, comma "
                                              "separated (default: all that the configuration can find)."),
    threshold: float = typer.Option(0.5, "--threshold", help="Minimum score reported."),
    show_values: bool = typer.Option(False, "--show-values", help="Include each entity's text in the output "
                                     "(off by default: the output then holds no personal data)."),
    ner: str | None = typer.Option(None, "--ner", help="NER plug-in for names and places: spacy:PATH, "
                                   "gliner:PATH or onnx:PATH (a local model; nothing is downloaded)."),
    allow_unsafe_load: bool = typer.Option(False, "--allow-unsafe-load", help="Load the NER model even if the "
                                           "model-file scan reports findings (dangerous; logged)."),
    workers: int | None = typer.Option(None, "--workers", "-w", help="Processes to use (-1: one per CPU)."),
    dask: str | None = typer.Option(None, "--dask", help="Dask scheduler address, or 'local' for a LocalCluster."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write JSON Lines here (atomically)."),
) -> None:
    """Write one JSON line per input record: {"id", "entities": [{"type", "start", "end", "score"}]}.

    Exit 0 when nothing was found, 1 when personal data was found, 2 on bad input.
    """
    from bastion.data.files import DataError, atomic_writer
    from bastion.data.pii.records import DetectOptions, detect_records, detect_texts

    if (file is None) == (text is None):
        raise _fail("detect", "give either a FILE or --text")
    options = DetectOptions(entities=_split(entities), threshold=threshold, ner=ner,
                            allow_unsafe_ner=allow_unsafe_load)
    found_any = False
    try:
        if text is not None:
            results = detect_texts([text], options)
            handle_results = [result.to_dict(show_values) for result in results]
            found_any = any(item["entities"] for item in handle_results)
            _emit(handle_results, output)
        else:
            assert file is not None
            from bastion.compute import executor_for

            with executor_for(workers, dask) as executor:
                stream = detect_records(file, options, text_fields=_split(text_field), executor=executor)
                if output is None:
                    for result in stream:
                        found_any |= bool(result.found)
                        sys.stdout.write(json.dumps(result.to_dict(show_values), ensure_ascii=False) + "\n")
                else:
                    with atomic_writer(output) as handle:
                        for result in stream:
                            found_any |= bool(result.found)
                            handle.write(json.dumps(result.to_dict(show_values), ensure_ascii=False) + "\n")
    except (DataError, ValueError, OSError, ImportError) as exc:
        raise _fail("detect", exc) from None
    except RuntimeError as exc:  # a worker's failure comes back as TaskError naming the batch
        raise _fail("detect", getattr(exc, "error", exc)) from None
    raise typer.Exit(1 if found_any else 0)


def _emit(records: list[dict[str, object]], output: Path | None) -> None:
    from bastion.data.files import atomic_writer

    lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    if output is None:
        sys.stdout.write(lines)
        return
    with atomic_writer(output) as handle:
        handle.write(lines)


@app.command("anonymize")
def anonymize_command(
    source: Path = typer.Argument(..., help="Input: JSON Lines, text, CSV, TSV or Parquet."),
    target: Path = typer.Argument(..., help="Output file (same format), written atomically."),
    policy: Path = typer.Option(..., "--policy", "-p", help="YAML policy: operators per entity type and column, "
                                "key source, k-anonymity goal."),
    report: Path | None = typer.Option(None, "--report", help="Also write the run's JSON report here."),
) -> None:
    """Replace personal data by the policy's operators; print what was replaced and suppressed (JSON)."""
    _transform("anonymize", source, target, policy, report)


@app.command("deanonymize")
def deanonymize_command(
    source: Path = typer.Argument(..., help="A file written by bastion pii anonymize."),
    target: Path = typer.Argument(..., help="Output file, written atomically."),
    policy: Path = typer.Option(..., "--policy", "-p", help="The policy used to anonymise (for the key and the "
                                "columns encrypted with fpe)."),
    report: Path | None = typer.Option(None, "--report", help="Also write the run's JSON report here."),
) -> None:
    """Open every reversible token (encrypt) and undo fpe columns, with the policy's key."""
    _transform("deanonymize", source, target, policy, report)


@app.command("keygen")
def keygen_command(
    keyfile: Path = typer.Argument(..., help="Key file to write (mode 0600)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing key file (tokens made with the old key "
                               "can then no longer be opened)."),
) -> None:
    """Write a new random 256-bit key for pseudonyms, format-preserving encryption and reversible tokens."""
    from bastion.data.anonymize.keys import generate_key_file
    from bastion.supplychain.signing import SigningError

    try:
        generate_key_file(keyfile, overwrite=force)
    except SigningError as exc:
        raise _fail("keygen", exc) from None
    typer.echo(f"key written to {keyfile} (mode 0600); reference it in a policy as key: {{file: {keyfile}}}")


def _transform(verb: str, source: Path, target: Path, policy_path: Path, report_path: Path | None) -> None:
    from bastion.data.anonymize.keys import KeyMaterialError
    from bastion.data.anonymize.pipeline import anonymize_file, deanonymize_file, load_keys
    from bastion.data.anonymize.policy import PolicyError, load_policy
    from bastion.data.files import DataError

    try:
        policy = load_policy(policy_path)
        keys = load_keys(policy, policy_path.parent)
        if verb == "deanonymize":
            if keys is None:
                raise PolicyError(f"{policy_path}: no rule uses encrypt or fpe, so there is nothing to reverse")
            result = deanonymize_file(source, target, policy, keys)
        else:
            result = anonymize_file(source, target, policy, keys)
    except (PolicyError, KeyMaterialError, DataError, OSError) as exc:
        raise _fail(verb, exc) from None
    text = json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if report_path is not None:
        from bastion.cli.output import write_report

        write_report(text, report_path)
    typer.echo(text, nl=False, err=True)
