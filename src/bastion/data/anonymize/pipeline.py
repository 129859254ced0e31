"""``anonymize_file`` / ``deanonymize_file``: apply a policy to a JSON Lines, text, CSV, TSV or Parquet file.

Text is searched with the PII detector and each entity replaced by its operator, from the end of the text backwards
so offsets stay valid. A document (whose ``replace`` placeholders are numbered together) is one JSON Lines record,
a whole text file, or a whole table. Tables stream batch by batch unless the policy asks for k-anonymity, which
needs the whole table at once. The output is written atomically: a failed run leaves no partial file behind.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion.data.anonymize.keys import KeyRing
from bastion.data.anonymize.operators import TOKEN, Anonymizer, Document, Operator, OperatorError
from bastion.data.anonymize.policy import ColumnRule, Policy
from bastion.data.files import DataError, atomic_writer, iter_json_lines, iter_lines, table_format

if TYPE_CHECKING:
    from bastion.data.pii.engine import PiiDetector


@dataclass(frozen=True)
class AnonymizeReport:
    """What an anonymisation (or de-anonymisation) run did."""

    input: str
    """The input file."""
    output: str
    """The output file."""
    records: int
    """Records (JSON Lines objects, text lines or table rows) read."""
    written: int
    """Records written; ``records - written`` were suppressed for k-anonymity, each listed in ``suppressed``."""
    replaced: Mapping[str, int] = field(default_factory=dict)
    """``TYPE:operator`` (or ``column:operator``) -> how many values it replaced."""
    suppressed: tuple[int, ...] = ()
    """0-based input rows suppressed to reach k-anonymity."""
    privacy: Mapping[str, Any] = field(default_factory=dict)
    """k and l before and after, the generalisation chosen and the suppressed rows' quasi-identifiers."""
    seconds: float = 0.0
    """Wall-clock time."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form printed by ``bastion pii anonymize --report``."""
        return {"input": self.input, "output": self.output, "records": self.records, "written": self.written,
                "replaced": dict(self.replaced), "suppressed": list(self.suppressed), "privacy": dict(self.privacy),
                "seconds": round(self.seconds, 3)}


FALLBACK = Operator("replace")
"""What replaces a value in free text that its ``generalize`` rule cannot read (a date in an unknown language)."""


class _Job:
    """One run: the policy, the detector and operators, and the tallies."""

    def __init__(self, policy: Policy, keys: KeyRing | None, decrypt: bool = False) -> None:
        self.policy = policy
        self.anonymizer = Anonymizer(keys)
        self.decrypt = decrypt
        self.replaced: Counter[str] = Counter()
        self._detector: PiiDetector | None = None

    @property
    def detector(self) -> PiiDetector:
        if self._detector is None:
            from bastion.data.pii.records import DetectOptions

            self._detector = DetectOptions(self.policy.detected_types(), self.policy.threshold,
                                           ner=self.policy.ner).build()
        return self._detector

    def text(self, text: str, document: Document, where: str) -> str:
        """``text`` with every detected entity replaced (or every token opened when de-anonymising)."""
        if self.decrypt:
            return self._open_tokens(text, where)
        pieces, last = [], len(text)
        for entity in reversed(self.detector.detect(text)):
            operator = self.policy.operator_for(entity.type)
            if operator.name == "keep":
                continue
            value = text[entity.start:entity.end]
            pieces.append(text[entity.end:last])
            # Free text is never left half-done: a value generalize cannot read gets a placeholder instead.
            fallback = FALLBACK if operator.name == "generalize" else None
            pieces.append(self._apply(operator, value, entity.type, document, where, fallback))
            last = entity.start
        pieces.append(text[:last])
        return "".join(reversed(pieces))

    def cell(self, rule: ColumnRule, value: str, document: Document, where: str) -> str:
        """One table cell or JSON field under its column rule."""
        if rule.operator is None:
            return self.text(value, document, where)
        if not value:  # an empty cell holds no personal data (and is too short for fpe)
            return value
        if self.decrypt:
            if rule.operator.name == "fpe":
                try:
                    return self.anonymizer.unfpe(rule.operator, value, rule.entity)
                except OperatorError as exc:
                    raise DataError(f"{where}: {exc}") from None
            return self._open_tokens(value, where) if rule.operator.name == "encrypt" else value
        return self._apply(rule.operator, value, rule.entity, document, where)

    def _apply(self, operator: Operator, value: str, kind: str, document: Document, where: str,
               fallback: Operator | None = None) -> str:
        try:
            result = self.anonymizer.apply(operator, value, kind, document)
        except OperatorError as exc:
            if fallback is not None:
                return self._apply(fallback, value, kind, document, where)
            raise DataError(f"{where}: {exc}") from None
        self.replaced[f"{kind}:{operator.name}"] += 1
        return result

    def _open_tokens(self, text: str, where: str) -> str:
        def opened(match: Any) -> str:
            try:
                value = self.anonymizer.decrypt_token(match.group("type"), match.group("body"))
            except OperatorError as exc:
                raise DataError(f"{where}: {exc}") from None
            self.replaced[f"{match.group('type')}:decrypt"] += 1
            return value

        return TOKEN.sub(opened, text) if "[[" in text else text


def load_keys(policy: Policy, policy_folder: Path | None = None) -> KeyRing | None:
    """The key ring the policy needs, or None when no rule is keyed (the key is then never read)."""
    if not policy.needs_key():
        return None
    file = policy.key_file
    if file is not None and policy_folder is not None and not Path(file).is_absolute():
        file = str(policy_folder / file)
    return KeyRing.load(file, policy.key_env)


def anonymize_file(source: Path, target: Path, policy: Policy, keys: KeyRing | None = None) -> AnonymizeReport:
    """Apply ``policy`` to ``source`` and write ``target`` (same format) atomically."""
    return _run(source, target, _Job(policy, keys))


def deanonymize_file(source: Path, target: Path, policy: Policy, keys: KeyRing) -> AnonymizeReport:
    """Open every ``encrypt`` token in ``source`` and undo ``fpe`` columns; write ``target`` atomically."""
    return _run(source, target, _Job(policy, keys, decrypt=True))


def _run(source: Path, target: Path, job: _Job) -> AnonymizeReport:
    started = time.monotonic()
    if not source.is_file():
        raise DataError(f"{source}: no such file")
    if source.resolve() == target.resolve():
        raise DataError(f"{target}: the output must not be the input file")
    kind = table_format(source)
    if kind is not None and table_format(target) not in (kind, None) and kind != "jsonl":
        raise DataError(f"{target}: write the output in the input's format ({kind})")
    if kind == "jsonl":
        records, written, suppressed, privacy = _jsonl(source, target, job)
    elif kind is not None:
        from bastion.data.anonymize.tables import anonymize_table

        records, written, suppressed, privacy = anonymize_table(source, target, kind, job)
    else:
        records, written, suppressed, privacy = _text(source, target, job)
    return AnonymizeReport(str(source), str(target), records, written, dict(sorted(job.replaced.items())),
                           suppressed, privacy, time.monotonic() - started)


Outcome = tuple[int, int, tuple[int, ...], dict[str, Any]]
"""(records read, records written, suppressed rows, privacy measures)."""


def _jsonl(source: Path, target: Path, job: _Job) -> Outcome:
    import json

    if job.policy.k_anonymity is not None:
        raise DataError(f"{job.policy.source}: k_anonymity applies to tables (CSV, TSV, Parquet), not JSON Lines")
    count, seen = 0, set()
    named = set(job.policy.text_fields)  # columns may be shared with the policy's tables; text fields are ours
    with atomic_writer(target) as handle:
        for number, record in iter_json_lines(source):
            count += 1
            seen.update(named.intersection(record))
            handle.write(json.dumps(_record(record, number, source, job), ensure_ascii=False) + "\n")
        unused = sorted(named - seen)
        if count and unused:  # a misspelt field would otherwise pass personal data through untouched
            raise DataError(f"{source}: no record has the text field(s) {', '.join(map(repr, unused))} that "
                            f"{job.policy.source} names; nothing was written (fix text_fields)")
    return count, count, (), {}


def _record(record: dict[str, Any], number: int, source: Path, job: _Job) -> dict[str, Any]:
    document = Document()
    out = dict(record)
    for name, value in record.items():
        rule = job.policy.columns.get(name)
        if rule is None and name in job.policy.text_fields:
            rule = ColumnRule(None, name.upper())
        if rule is None or value is None:
            continue
        where = f"{source}: line {number + 1}: field {name!r}"
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise DataError(f"{where}: is {type(value).__name__}; only text and numbers can be anonymised")
        out[name] = job.cell(rule, str(value), document, where)
    return out


def _text(source: Path, target: Path, job: _Job) -> Outcome:
    if job.policy.k_anonymity is not None:
        raise DataError(f"{job.policy.source}: k_anonymity applies to tables (CSV, TSV, Parquet), not text")
    document, count = Document(), 0
    with atomic_writer(target) as handle:
        for number, line in iter_lines(source):
            count += 1
            handle.write(job.text(line, document, f"{source}: line {number + 1}") + "\n")
    return count, count, (), {}
