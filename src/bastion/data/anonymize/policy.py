"""Anonymisation policies (YAML): which operator handles which entity type or column, keys, and a k-anonymity goal.

```yaml
key: {file: keys/pii.key}         # or {env: MY_VARIABLE}; default $BASTION_PII_KEY, read only if an operator needs it
threshold: 0.5                    # detector score threshold
default: replace                  # operator for detected types not listed below ("keep" leaves them)
entities:
  EMAIL_ADDRESS: pseudonymize
  PHONE_NUMBER: {operator: mask, keep: 4}
  CREDIT_CARD: fpe
  US_SSN: encrypt
  DATE_TIME: {operator: generalize, to: year}
columns:                          # tables and JSON Lines fields; whole-cell operators
  email: {operator: pseudonymize, entity: EMAIL_ADDRESS}
  zip: {operator: generalize, zip_prefix: 3}
  notes: detect                   # free text: find entities and apply the rules above (default for text columns)
  diagnosis: keep
text_fields: [text]               # JSON Lines fields searched for entities (default: text)
k_anonymity: {quasi_identifiers: [zip, age, sex], k: 5, l: 2, sensitive: diagnosis, max_suppression: 0.05}
```

Every error names the policy file and the key path in it (``policy.yaml: entities.FOO: unknown entity type``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.data.anonymize.operators import KEYED, OPERATORS, Operator, OperatorError
from bastion.data.pii.entities import ENTITY_TYPES

MAX_POLICY_BYTES = 1 << 20
"""A policy is a small hand-written file; anything larger is refused unread."""
DETECT = "detect"
"""The column rule that searches a text column for entities and applies the entity operators."""
_TOP_LEVEL = frozenset({"key", "threshold", "default", "entities", "columns", "text_fields", "k_anonymity", "ner",
                        "version"})


class PolicyError(ValueError):
    """A policy that cannot be used; the message names the file and the place in it."""


@dataclass(frozen=True)
class ColumnRule:
    """What happens to one column (or JSON Lines field)."""

    operator: Operator | None
    """The whole-cell operator, or None for ``detect``."""
    entity: str
    """The entity type the cell values are (names placeholders and pseudonyms: ``<EMAIL_ADDRESS_1>``)."""


@dataclass(frozen=True)
class KAnonymityGoal:
    """The privacy target of a table."""

    quasi_identifiers: tuple[str, ...]
    """Columns an attacker could link with other data (ZIP, age, sex...)."""
    k: int
    """Every combination of quasi-identifier values must be shared by at least k rows."""
    l: int | None = None  # noqa: E741 (the standard name of the measure)
    """Every such group must hold at least l distinct values of ``sensitive``."""
    sensitive: str | None = None
    """The sensitive column for l-diversity."""
    max_suppression: float = 0.05
    """Largest share of rows that may be suppressed to reach the target."""
    suppress: str = "drop"
    """``drop`` suppressed rows (each is listed in the report) or ``mask`` their quasi-identifiers with ``*``."""


@dataclass(frozen=True)
class Policy:
    """A parsed, validated policy."""

    source: str
    """Where it was read from, for messages."""
    entities: Mapping[str, Operator] = field(default_factory=dict)
    """Operator per detected entity type."""
    default: Operator = field(default_factory=lambda: Operator("replace"))
    """Operator for detected types not in ``entities``."""
    columns: Mapping[str, ColumnRule] = field(default_factory=dict)
    """Rules for named columns or fields."""
    text_fields: tuple[str, ...] = ("text",)
    """JSON Lines fields searched for entities."""
    threshold: float = 0.5
    """Detector score threshold."""
    ner: str | None = None
    """NER plug-in spec for names and places, or None."""
    key_file: str | None = None
    """Key file path (relative to the policy's folder), or None."""
    key_env: str | None = None
    """Environment variable holding the key, or None for ``$BASTION_PII_KEY``."""
    k_anonymity: KAnonymityGoal | None = None
    """The table's k-anonymity target, or None."""

    def operator_for(self, kind: str) -> Operator:
        """The operator for a detected entity of type ``kind``."""
        return self.entities.get(kind, self.default)

    def needs_key(self) -> bool:
        """Whether any rule uses a keyed operator."""
        operators = [*self.entities.values(), self.default]
        operators += [rule.operator for rule in self.columns.values() if rule.operator is not None]
        return any(operator.name in KEYED for operator in operators)

    def detected_types(self) -> tuple[str, ...] | None:
        """The types the detector must look for: all when the default acts on them, else the listed ones."""
        if self.default.name != "keep":
            return None
        return tuple(kind for kind, operator in self.entities.items() if operator.name != "keep")


def load_policy(path: Path) -> Policy:
    """Read and validate a YAML policy file."""
    import yaml

    try:
        if path.stat().st_size > MAX_POLICY_BYTES:
            raise PolicyError(f"{path}: larger than {MAX_POLICY_BYTES} bytes; not a policy")
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise PolicyError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return parse_policy(document or {}, str(path))


def parse_policy(document: Any, source: str = "policy") -> Policy:
    """Validate a policy already read into Python values."""
    if not isinstance(document, dict):
        raise PolicyError(f"{source}: expected a mapping at the top level")
    unknown = sorted(set(document) - _TOP_LEVEL)
    if unknown:
        raise PolicyError(f"{source}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_TOP_LEVEL))})")
    entities = {kind: _operator(spec, f"{source}: entities.{kind}") for kind, spec in
                _mapping(document.get("entities", {}), f"{source}: entities").items()}
    for kind in entities:
        if kind not in ENTITY_TYPES:
            raise PolicyError(f"{source}: entities.{kind}: unknown entity type (known: {', '.join(ENTITY_TYPES)})")
    columns = {str(name): _column(spec, str(name), f"{source}: columns.{name}") for name, spec in
               _mapping(document.get("columns", {}), f"{source}: columns").items()}
    key_file, key_env = _key(document.get("key"), source)
    return Policy(
        source=source, entities=entities, columns=columns,
        default=_operator(document.get("default", "replace"), f"{source}: default"),
        text_fields=_strings(document.get("text_fields", ["text"]), f"{source}: text_fields"),
        threshold=_number(document.get("threshold", 0.5), f"{source}: threshold", 0.0, 1.0),
        ner=_optional_string(document.get("ner"), f"{source}: ner"), key_file=key_file, key_env=key_env,
        k_anonymity=_goal(document.get("k_anonymity"), f"{source}: k_anonymity"))


def _mapping(value: Any, where: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise PolicyError(f"{where}: expected a mapping, found {type(value).__name__}")
    return value


def _operator(spec: Any, where: str) -> Operator:
    if isinstance(spec, str):
        name, options = spec, {}
    elif isinstance(spec, dict) and isinstance(spec.get("operator"), str):
        name, options = spec["operator"], {k: v for k, v in spec.items() if k not in ("operator", "entity")}
    else:
        raise PolicyError(f"{where}: expected an operator name or {{operator: NAME, ...options}}")
    try:
        return Operator(name, options)
    except OperatorError as exc:
        if isinstance(spec, dict) and name not in OPERATORS:
            where = f"{where}.operator"  # {operator: NAME}: name the key that holds the bad name
        raise PolicyError(f"{where}: {exc}") from None


def _column(spec: Any, name: str, where: str) -> ColumnRule:
    entity = spec.get("entity") if isinstance(spec, dict) else None
    if entity is not None and entity not in ENTITY_TYPES:
        raise PolicyError(f"{where}.entity: unknown entity type {entity!r} (known: {', '.join(ENTITY_TYPES)})")
    kind = entity or _entity_from_name(name)
    if spec == DETECT or (isinstance(spec, dict) and spec.get("operator") == DETECT):
        return ColumnRule(None, kind)
    return ColumnRule(_operator(spec, where), kind)


_NAME_TYPES = (
    ("EMAIL_ADDRESS", r"e_?mail"), ("PHONE_NUMBER", r"phone|tel|mobile|cell|fax"),
    ("CREDIT_CARD", r"card|cc_?num|pan\b"), ("IBAN_CODE", r"iban"), ("US_SSN", r"ssn|social_?security"),
    ("IP_ADDRESS", r"\bip\b|ip_?addr"), ("DATE_TIME", r"dob|birth|date"),
)
"""Column-name patterns that say which entity type a column holds when the policy gives no ``entity:``."""


def _entity_from_name(name: str) -> str:
    """The entity type a column's name announces (``card_number`` -> CREDIT_CARD, so fpe keeps the Luhn digit and
    pseudonyms match those found in text), else the name in capitals."""
    import re

    key = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()
    for kind, pattern in _NAME_TYPES:
        if re.search(pattern, key):
            return kind
    return name.upper()


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise PolicyError(f"{where}: expected a non-empty list of names")
    return tuple(value)


def _optional_string(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise PolicyError(f"{where}: expected a string")
    return value


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise PolicyError(f"{where}: expected a number from {low} to {high}, found {value!r}")
    return float(value)


def _key(value: Any, source: str) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict) or set(value) - {"file", "env"} or len(value) != 1:
        raise PolicyError(f"{source}: key: expected {{file: PATH}} or {{env: VARIABLE}} (the key itself never goes "
                          "into a policy)")
    return _optional_string(value.get("file"), f"{source}: key.file"), \
        _optional_string(value.get("env"), f"{source}: key.env")


def _goal(value: Any, where: str) -> KAnonymityGoal | None:
    if value is None:
        return None
    spec = _mapping(value, where)
    unknown = sorted(set(spec) - {"quasi_identifiers", "k", "l", "sensitive", "max_suppression", "suppress"})
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {', '.join(unknown)}")
    k, l_value = spec.get("k"), spec.get("l")
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise PolicyError(f"{where}.k: expected a whole number of at least 2, found {k!r}")
    if l_value is not None and (not isinstance(l_value, int) or isinstance(l_value, bool) or l_value < 2):
        raise PolicyError(f"{where}.l: expected a whole number of at least 2, found {l_value!r}")
    if l_value is not None and not spec.get("sensitive"):
        raise PolicyError(f"{where}: l needs a sensitive column")
    suppress = spec.get("suppress", "drop")
    if suppress not in ("drop", "mask"):
        raise PolicyError(f"{where}.suppress: expected drop or mask, found {suppress!r}")
    return KAnonymityGoal(
        quasi_identifiers=_strings(spec.get("quasi_identifiers"), f"{where}.quasi_identifiers"), k=k, l=l_value,
        sensitive=_optional_string(spec.get("sensitive"), f"{where}.sensitive"),
        max_suppression=_number(spec.get("max_suppression", 0.05), f"{where}.max_suppression", 0.0, 1.0),
        suppress=suppress)
