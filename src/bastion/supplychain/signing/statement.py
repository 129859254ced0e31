"""The signed payload: an in-toto Statement v1 whose predicate is OpenSSF model signing v1.0.

Shape (https://github.com/ossf/model-signing-spec): one subject (the model name and its root digest), and a predicate
with ``serialization`` (method ``files``, ``hash_type`` sha256, ``allow_symlinks`` false, ``ignore_paths``) and
``resources`` (``name``, ``algorithm``, ``digest`` per file). Parsing validates every field it relies on.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bastion.supplychain.signing.base import InvalidSignature
from bastion.supplychain.signing.manifest import MAX_FILES, SINGLE_FILE, Manifest, Resource

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
"""in-toto Statement v1."""

PREDICATE_TYPE = "https://model_signing/signature/v1.0"
"""OpenSSF model signing v1.0."""

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def statement_bytes(manifest: Manifest) -> bytes:
    """The statement as compact JSON with sorted keys (the exact bytes that get signed)."""
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": manifest.model_name, "digest": {"sha256": manifest.root_digest()}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {
                "method": "files",
                "hash_type": "sha256",
                "allow_symlinks": False,
                "ignore_paths": list(manifest.ignore_paths or ()),
            },
            "resources": [{"name": r.name, "algorithm": "sha256", "digest": r.digest} for r in manifest.resources],
        },
    }
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def parse_statement(payload: bytes) -> Manifest:
    """The manifest a verified payload describes; raises InvalidSignature naming the first field that is wrong."""
    statement = _object(strict_json(payload, "the signed payload is not a statement"), "the statement")
    if statement.get("_type") != STATEMENT_TYPE:
        raise InvalidSignature(f"statement _type is {statement.get('_type')!r}, expected {STATEMENT_TYPE!r}")
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise InvalidSignature(f"predicateType is {statement.get('predicateType')!r}, expected {PREDICATE_TYPE!r} "
                               "(OpenSSF model signing v1.0)")
    name, root = _subject(statement.get("subject"))
    predicate = _object(statement.get("predicate"), "predicate")
    ignore = _serialization(_object(predicate.get("serialization"), "predicate.serialization"))
    manifest = Manifest(name, _resources(predicate.get("resources")), ignore)
    if manifest.root_digest() != root:
        raise InvalidSignature("subject digest does not match the listed resources (inconsistent statement)")
    return manifest


def strict_json(data: bytes, what: str) -> Any:
    """Parse UTF-8 JSON, refusing duplicate keys (parsers disagree on which one wins); InvalidSignature otherwise."""
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise InvalidSignature(f"{what}: key {exc.args[0]!r} appears twice in one JSON object") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidSignature(f"{what} (not valid UTF-8 JSON)") from None


class _DuplicateKey(ValueError):
    """Two values for one key in a JSON object."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidSignature(f"{what} is missing or not a JSON object")
    return value


def _subject(value: Any) -> tuple[str, str]:
    if not isinstance(value, list) or len(value) != 1:
        raise InvalidSignature("statement subject must hold exactly one entry (the model)")
    subject = _object(value[0], "subject[0]")
    name = subject.get("name")
    digest = _object(subject.get("digest"), "subject[0].digest").get("sha256")
    if not isinstance(name, str) or not name:
        raise InvalidSignature("subject[0].name is missing or empty")
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise InvalidSignature("subject[0].digest.sha256 is not a SHA-256 hex digest")
    return name, digest.lower()


def _serialization(value: dict[str, Any]) -> tuple[str, ...] | None:
    """The recorded ignore paths, after checking the serialization is one Bastion reproduces exactly."""
    if value.get("method") != "files":
        raise InvalidSignature(f"serialization method {value.get('method')!r} is not supported (only 'files')")
    if value.get("hash_type") != "sha256":
        raise InvalidSignature(f"hash_type {value.get('hash_type')!r} is not supported (only 'sha256')")
    if value.get("allow_symlinks") not in (False, "false"):
        raise InvalidSignature("the model was signed with allow_symlinks; Bastion never follows symbolic links")
    ignore = value.get("ignore_paths")
    if ignore is None:
        return None
    if not isinstance(ignore, list) or len(ignore) > MAX_FILES or not all(isinstance(p, str) for p in ignore):
        raise InvalidSignature("serialization.ignore_paths is not a list of strings")
    return tuple(ignore)


def _resources(value: Any) -> tuple[Resource, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidSignature("predicate.resources is missing or empty")
    if len(value) > MAX_FILES:
        raise InvalidSignature(f"predicate.resources lists {len(value)} files; at most {MAX_FILES} are read")
    resources = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        entry = _object(item, f"resources[{index}]")
        name, algorithm, digest = entry.get("name"), entry.get("algorithm"), entry.get("digest")
        if not isinstance(name, str) or not _safe_name(name, len(value)):
            raise InvalidSignature(f"resources[{index}].name {name!r} is not a relative path inside the model")
        if algorithm != "sha256" or not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise InvalidSignature(f"resources[{index}] ({name}) is not a sha256 digest")
        if name in seen:
            raise InvalidSignature(f"resources lists {name!r} twice")
        seen.add(name)
        resources.append(Resource(name, digest.lower()))
    return tuple(resources)


def _safe_name(name: str, count: int) -> bool:
    """Relative, normalised, no ``..``: a signature can never point the verifier outside the model."""
    if name == SINGLE_FILE:
        return count == 1
    if "\x00" in name or name.startswith("/"):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))
