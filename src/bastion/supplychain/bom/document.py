"""The CycloneDX 1.6 ML-BOM of a scan, made with cyclonedx-python-lib and checked against the schema it ships.

cyclonedx-python-lib 11 models everything used here except a component's ``modelCard`` and ``data`` (its
``Component`` keeps both as TODO comments). ``build_bom`` therefore returns the library's ``Bom`` together with
those two fragments, keyed by bom-ref and shaped as the 1.6 schema defines them; ``bom_json`` serialises the Bom
with the library's ``JsonV1Dot6`` outputter, grafts the fragments onto their components, and validates the result
with the library's ``JsonStrictValidator`` (additional properties are errors) before returning it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from bastion import __version__
from bastion.findings import Finding, ScanResult, TargetStatus
from bastion.supplychain.bom.inventory import Dataset, FileEntry, Inventory, Model, build_inventory, relative_name

if TYPE_CHECKING:
    from cyclonedx.model import HashType, Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component
    from cyclonedx.model.vulnerability import Vulnerability

SOURCE_NAME = "Bastion"
"""The vulnerability source and rating source of every finding."""
MAX_PROPERTY_CHARS = 512
"""Longest property value written; longer fact values are cut with an ellipsis."""
_TASK_KEYS = ("task", "hf.pipeline_tag")
_FAMILY_KEYS = ("architecture_family", "hf.model_type", "gguf.architecture")
_ARCHITECTURE_KEYS = ("architecture", "hf.architectures")
_MAPPED = frozenset({"format", "parameters", "tensors", "dtype", "framework", "license", "version", "columns",
                     *_TASK_KEYS, *_FAMILY_KEYS, *_ARCHITECTURE_KEYS})
_TOP_ORDER = ("$schema", "bomFormat", "specVersion", "serialNumber", "version", "metadata", "components",
              "dependencies", "vulnerabilities")


class BomValidationError(ValueError):
    """The document does not validate against the CycloneDX 1.6 JSON schema; ``errors`` lists why."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("CycloneDX 1.6 schema validation failed: " + "; ".join(errors[:5]))
        self.errors = errors


@dataclass(frozen=True)
class MlBom:
    """An ML-BOM: the library's Bom plus the model cards and dataset descriptions it cannot hold itself."""

    bom: Bom
    """Components, hashes, properties, licences, vulnerabilities, dependencies and metadata."""
    model_cards: Mapping[str, dict[str, Any]]
    """bom-ref of a ``machine-learning-model`` component -> its ``modelCard`` object."""
    data: Mapping[str, list[dict[str, Any]]]
    """bom-ref of a ``data`` component -> its ``data`` array (``componentData`` objects)."""


def build_bom(result: ScanResult, root: str, *, serial_number: UUID | None = None,
              timestamp: datetime | None = None) -> MlBom:
    """The ML-BOM of ``result``, a scan of ``root``; names are paths relative to ``root``.

    Hashes come from the scan (scan with ``Settings(hash_files=True)``, the default). Dataset files are recognised
    from their first 64 KiB, so call this where the scan's paths can still be opened. ``serial_number`` and
    ``timestamp`` default to a random UUID and now."""
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.tool import ToolRepository

    inventory = build_inventory(result, root)
    cards: dict[str, dict[str, Any]] = {}
    data: dict[str, list[dict[str, Any]]] = {}
    components = [_model_component(m, cards) for m in inventory.models]
    components += [_data_component(d, data) for d in inventory.datasets]
    components += [_file_component(f) for f in inventory.files]
    described = Component(type=ComponentType.APPLICATION if os.path.isdir(root) else ComponentType.FILE,
                          name=os.path.basename(os.path.normpath(os.path.abspath(root))), bom_ref="root")
    tool = Component(type=ComponentType.APPLICATION, name="bastion", version=__version__)
    metadata = BomMetaData(tools=ToolRepository(components=[tool]), component=described, timestamp=timestamp,
                           properties=_scan_properties(result))
    bom = Bom(components=components, metadata=metadata, serial_number=serial_number,
              vulnerabilities=_vulnerabilities(result.findings, inventory, root))
    if components:
        bom.register_dependency(described, components)
    return MlBom(bom, cards, data)


def bom_json(ml_bom: MlBom, *, validate: bool = True) -> str:
    """The CycloneDX 1.6 JSON document, indented, with a trailing newline.

    Raises BomValidationError when ``validate`` is set and the document does not match the official schema."""
    from cyclonedx.output.json import JsonV1Dot6

    document = json.loads(JsonV1Dot6(ml_bom.bom).output_as_string())
    _graft(document.get("components", []), ml_bom)
    ordered = {key: document[key] for key in _TOP_ORDER if key in document}
    ordered.update((key, value) for key, value in document.items() if key not in ordered)
    text = json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"
    if validate:
        errors = validate_bom_json(text)
        if errors:
            raise BomValidationError(errors)
    return text


def can_validate() -> bool:
    """Whether the schema validator's dependencies (jsonschema, referencing) are installed."""
    from importlib.util import find_spec

    return find_spec("jsonschema") is not None and find_spec("referencing") is not None


def validate_bom_json(text: str) -> list[str]:
    """Every way ``text`` fails the official CycloneDX 1.6 JSON schema (strict), as ``path: message``; [] if valid."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    found = []
    for error in errors or ():
        detail = error.data
        where = "/".join(str(p) for p in getattr(detail, "absolute_path", ()))
        found.append(f"{where or '(document)'}: {getattr(detail, 'message', detail)}")
    return found


def _graft(components: list[dict[str, Any]], ml_bom: MlBom) -> None:
    """Add ``modelCard`` and ``data`` to the serialised components they belong to (keys kept in sorted order)."""
    for index, component in enumerate(components):
        ref = str(component.get("bom-ref", ""))
        if ref in ml_bom.model_cards:
            component["modelCard"] = ml_bom.model_cards[ref]
        if ref in ml_bom.data:
            component["data"] = ml_bom.data[ref]
        _graft(component.get("components", []), ml_bom)
        components[index] = dict(sorted(component.items()))


# ---- components ----

def _model_component(model: Model, cards: dict[str, dict[str, Any]]) -> Component:
    from cyclonedx.model.component import Component, ComponentType

    facts = model.facts
    card = _model_card(facts)
    if card:
        cards[model.ref] = card
    single = model.single
    described = f"{single.format} model file" if single else \
        f"Model folder of {len(model.files)} files ({', '.join(model.formats)})"
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=model.name,
        bom_ref=model.ref,
        version=_text(facts.get("version")),
        description=described,
        hashes=_hashes(single) if single else None,
        licenses=_licenses(facts.get("license")),
        components=[_file_component(f) for f in model.files],
        properties=_model_properties(model),
    )


def _model_card(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The ``modelCard`` the facts support: ``modelParameters`` task and architecture (nothing is guessed)."""
    parameters = {
        "task": _first(facts, _TASK_KEYS),
        "architectureFamily": _first(facts, _FAMILY_KEYS),
        "modelArchitecture": _first(facts, _ARCHITECTURE_KEYS),
    }
    present = {key: value for key, value in parameters.items() if value}
    return {"modelParameters": present} if present else {}


def _model_properties(model: Model) -> list[Property]:
    entries = model.entries
    pairs: list[tuple[str, object]] = [("bastion:format", f) for f in model.formats]
    pairs += [("bastion:parameters", model.parameters), ("bastion:tensors", model.tensors),
              ("bastion:dtype", model.facts.get("dtype")), ("bastion:framework", model.facts.get("framework")),
              ("bastion:size", _total_size(entries))]
    if model.single is None:
        pairs.append(("bastion:files", len(entries)))
    pairs += _status_pairs(entries)
    pairs += [(f"bastion:fact:{key}", _text(value)) for key, value in model.facts.items() if key not in _MAPPED]
    return _properties(pairs)


def _file_component(entry: FileEntry) -> Component:
    from cyclonedx.model.component import Component, ComponentType

    facts = entry.target.facts
    pairs: list[tuple[str, object]] = [
        ("bastion:format", entry.format if entry.format != "unknown" else None),
        ("bastion:parameters", facts.get("parameters")), ("bastion:tensors", facts.get("tensors")),
        ("bastion:dtype", facts.get("dtype")), ("bastion:size", entry.target.size),
    ]
    return Component(type=ComponentType.FILE, name=entry.name, bom_ref=entry.ref, hashes=_hashes(entry),
                     properties=_properties(pairs + _status_pairs((entry,))))


def _data_component(dataset: Dataset, data: dict[str, list[dict[str, Any]]]) -> Component:
    from cyclonedx.model.component import Component, ComponentType

    entry, info = dataset.entry, dataset.info
    size = entry.target.size
    summary = f"{info.format.upper()} dataset" + (f", {size} bytes" if size is not None else "") + \
        (f", {len(info.columns)} columns" if info.columns else "")
    description: dict[str, Any] = {"type": "dataset", "name": entry.name, "description": summary}
    if info.columns:  # names only, in file order; properties may repeat a name, so order is kept
        description["contents"] = {"properties": [{"name": "bastion:column", "value": c} for c in info.columns]}
    data[dataset.ref] = [description]
    pairs: list[tuple[str, object]] = [("bastion:format", info.format), ("bastion:size", size)]
    return Component(type=ComponentType.DATA, name=entry.name, bom_ref=dataset.ref, hashes=_hashes(entry),
                     properties=_properties(pairs + _status_pairs((entry,))))


def _hashes(entry: FileEntry) -> list[HashType]:
    from cyclonedx.model import HashAlgorithm, HashType

    digest = entry.target.sha256
    return [HashType(alg=HashAlgorithm.SHA_256, content=digest)] if digest else []


def _licenses(value: object) -> list[Any]:
    text = _text(value)
    if not text:
        return []
    try:
        from cyclonedx.contrib.license.factories import LicenseFactory
    except ImportError:  # cyclonedx-python-lib before the contrib package
        from cyclonedx.factory.license import LicenseFactory
    return [LicenseFactory().make_from_string(text)]


def _status_pairs(entries: Iterable[FileEntry]) -> list[tuple[str, object]]:
    """``bastion:scan-status`` (incomplete if any file is) and ``bastion:scan-reason`` for the incomplete ones."""
    entries = tuple(entries)
    incomplete = [e for e in entries if e.target.status is TargetStatus.INCOMPLETE]
    if incomplete:
        if len(entries) == 1:
            return [("bastion:scan-status", "incomplete"), ("bastion:scan-reason", incomplete[0].target.reason)]
        return [("bastion:scan-status", "incomplete"),
                ("bastion:scan-reason", f"{len(incomplete)} of {len(entries)} files not examined completely: "
                                        + ", ".join(e.name for e in incomplete[:5]))]
    scanned = any(e.target.status is TargetStatus.SCANNED for e in entries)
    status = TargetStatus.SCANNED if scanned else TargetStatus.SKIPPED
    reason = entries[0].target.reason if len(entries) == 1 and not scanned else None
    return [("bastion:scan-status", status.value), ("bastion:scan-reason", reason)]


def _scan_properties(result: ScanResult) -> list[Property]:
    pairs: list[tuple[str, object]] = [
        ("bastion:scan-status", "incomplete" if result.incomplete() else "complete"),
        ("bastion:targets", len(result.targets)),
        ("bastion:findings", len(result.findings)),
    ]
    pairs += [("bastion:scan-error", error) for error in result.errors]
    return _properties(pairs)


# ---- vulnerabilities ----

def _vulnerabilities(findings: Iterable[Finding], inventory: Inventory, root: str) -> list[Vulnerability]:
    from cyclonedx.model.vulnerability import (
        BomTarget,
        Vulnerability,
        VulnerabilityRating,
        VulnerabilityScoreSource,
        VulnerabilitySeverity,
        VulnerabilitySource,
    )

    made: list[Vulnerability] = []
    used: set[str] = set()
    for finding in findings:
        location = finding.location
        refs = inventory.affected.get(location.path, ("root",))
        pairs: list[tuple[str, object]] = [
            ("bastion:location.path", relative_name(location.path, root)),
            ("bastion:location.member", location.member),
            ("bastion:location.offset", location.offset),
            ("bastion:evidence", finding.evidence or None),
        ]
        pairs += [("bastion:ref", ref) for ref in finding.refs]
        made.append(Vulnerability(
            bom_ref=_finding_ref(finding, used),
            id=finding.rule_id,
            source=VulnerabilitySource(name=SOURCE_NAME),
            ratings=[VulnerabilityRating(source=VulnerabilitySource(name=SOURCE_NAME),
                                         severity=VulnerabilitySeverity(finding.severity.label),
                                         method=VulnerabilityScoreSource.OTHER)],
            description=finding.title,
            detail=finding.detail or None,
            recommendation=finding.remediation or None,
            affects=[BomTarget(ref=ref) for ref in refs],
            properties=_properties(pairs),
        ))
    return made


def _finding_ref(finding: Finding, used: set[str]) -> str:
    """A bom-ref that depends only on what was found and where, so the same finding keeps it across runs."""
    loc = finding.location
    key = "\0".join((finding.rule_id, loc.path, loc.member or "", str(loc.offset), finding.title, finding.evidence))
    base = f"finding:{finding.rule_id}:{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}"
    ref, counter = base, 1
    while ref in used:  # the very same finding reported twice
        counter += 1
        ref = f"{base}-{counter}"
    used.add(ref)
    return ref


# ---- values ----

def _properties(pairs: Iterable[tuple[str, object]]) -> list[Property]:
    from cyclonedx.model import Property

    made = []
    for name, value in pairs:
        text = _text(value)
        if text:
            made.append(Property(name=name, value=text))
    return made


def _text(value: object) -> str | None:
    """A fact as property text: scalars as written, lists of scalars joined; anything else is left out."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        text = str(value)
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, (str, int, float)) for v in value):
        text = ", ".join(str(v) for v in value)
    else:
        return None
    return text if len(text) <= MAX_PROPERTY_CHARS else text[: MAX_PROPERTY_CHARS - 1] + "…"


def _first(facts: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    return next((text for key in keys if (text := _text(facts.get(key)))), None)


def _total_size(entries: Iterable[FileEntry]) -> int | None:
    sizes = [e.target.size for e in entries if e.target.size is not None]
    return sum(sizes) if sizes else None
