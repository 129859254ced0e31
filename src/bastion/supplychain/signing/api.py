"""``sign`` and ``verify``: the public functions behind ``bastion sign`` and ``bastion verify``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from bastion.supplychain.signing.atomic import write_files
from bastion.supplychain.signing.base import (
    InvalidSignature,
    SigningError,
    SigningKey,
    SignResult,
    Verification,
    VerifyingKey,
)
from bastion.supplychain.signing.bundle import bundle_bytes, read_bundle
from bastion.supplychain.signing.dsse import PAYLOAD_TYPE, envelope_json, pae
from bastion.supplychain.signing.keys import load_private_key, load_public_key
from bastion.supplychain.signing.manifest import (
    DEFAULT_IGNORE,
    SINGLE_FILE,
    FileEntry,
    Manifest,
    Progress,
    Resource,
    compare,
    hash_files,
    list_files,
    model_name,
    normalize_ignore,
    relative_inside,
)
from bastion.supplychain.signing.statement import parse_statement, statement_bytes

PathLike = str | os.PathLike[str]


def default_signature_path(path: PathLike) -> Path:
    """``PATH.sig`` beside the model file or folder (outside a folder, so it is never part of what it signs)."""
    model = Path(path)
    if model.name in ("", ".", ".."):
        model = model.resolve()
    if not model.name:
        raise SigningError(f"{path}: give the signature path explicitly (--signature) for a file-system root")
    return model.with_name(model.name + ".sig")


def sign(path: PathLike, key_path: PathLike, signature_path: PathLike | None = None, *,
         ignore: Iterable[str] = DEFAULT_IGNORE, password: bytes | None = None, workers: int | None = None,
         progress: Progress | None = None) -> SignResult:
    """Hash every file of the model at ``path`` and write a signed manifest to ``signature_path``.

    ``ignore`` lists exact paths relative to the model root to leave out (a folder's whole subtree); the signature
    file itself is left out when it lies inside the folder. Raises SigningError (naming the file) for an unusable
    key, a link or special file in the tree, an unreadable file or an empty model; nothing is written then.
    """
    root = Path(path)
    sig_path = Path(signature_path) if signature_path is not None else default_signature_path(root)
    key = load_private_key(key_path, password)  # before hashing: a bad key should not cost a pass over the model
    if relative_inside(root, Path(key_path)) is not None:
        raise SigningError(f"{key_path}: the private key is inside the model folder and would be published with it")
    ignored = normalize_ignore([*ignore, *_inside(root, sig_path)])
    entries = list_files(root, frozenset(ignored), strict=True)
    if not entries:
        raise SigningError(f"{root}: no files to sign (empty, or everything is ignored)")
    digests = hash_files(entries, workers=workers, progress=progress)
    resources = []
    for entry in entries:
        digest = digests[entry.name]
        if digest is None:
            raise SigningError(f"{entry.path}: became a link or special file while it was being signed")
        resources.append(Resource(entry.name, digest))
    manifest = Manifest(model_name(root), tuple(resources), ignored)
    _write_signature(sig_path, key, manifest)
    return SignResult(sig_path, key.public_key().key_id, manifest.root_digest(), len(entries),
                      sum(e.size for e in entries), ignored)


def _inside(root: Path, sig_path: Path) -> list[str]:
    inside = relative_inside(root, sig_path)
    return [inside] if inside is not None else []


def _write_signature(sig_path: Path, key: SigningKey, manifest: Manifest) -> None:
    payload = statement_bytes(manifest)
    public = key.public_key()
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    data = bundle_bytes(envelope_json(payload, [(public.key_id, signature)]), public.hint)
    write_files([(sig_path, data, 0o644)])


def verify(path: PathLike, public_key_path: PathLike, signature_path: PathLike | None = None, *,
           workers: int | None = None, progress: Progress | None = None) -> Verification:
    """Check the signature of the model at ``path`` with one public key; see ``verify_trusted``."""
    return verify_trusted(path, [public_key_path], signature_path, workers=workers, progress=progress)


def verify_trusted(path: PathLike, public_key_paths: Sequence[PathLike], signature_path: PathLike | None = None,
                   *, workers: int | None = None, progress: Progress | None = None) -> Verification:
    """Check that a trusted key signed the model at ``path`` and that every file still matches.

    The DSSE signature is verified before anything in the payload is read; then every signed file is re-hashed
    and compared. Returns a Verification (``ok`` False with ``error`` for a bad signature file, or with the changed
    files named). Raises SigningError for usage and I/O problems: no key, no signature file, an unreadable file.
    """
    keys = [load_public_key(p) for p in public_key_paths]
    if not keys:
        raise SigningError("no public key to verify with")
    root = Path(path)
    sig_path = Path(signature_path) if signature_path is not None else default_signature_path(root)
    if not os.path.lexists(root):
        raise SigningError(f"{root}: no such file or directory")
    try:
        key, manifest = authenticate(sig_path, keys)
    except InvalidSignature as exc:
        return Verification(False, keys[0].key_id, error=str(exc), other_key=exc.other_key)
    modified, missing, added = _compare(root, sig_path, manifest, workers, progress)
    return Verification(not (modified or missing or added), key.key_id, modified, missing, added,
                        files=len(manifest.resources), root_digest=manifest.root_digest())


def authenticate(sig_path: Path, keys: Sequence[VerifyingKey]) -> tuple[VerifyingKey, Manifest]:
    """The key that signed ``sig_path`` and the manifest it signed; InvalidSignature when no trusted key did."""
    bundle = read_bundle(sig_path)
    envelope = bundle.envelope
    message = envelope.pae()
    signer = next((k for _, sig in envelope.signatures for k in keys if k.verify(sig, message)), None)
    if signer is None:
        named = {hint for hint in (bundle.hint, *(keyid for keyid, _ in envelope.signatures)) if hint}
        trusted = {k.hint for k in keys} | {k.key_id for k in keys}
        ids = ", ".join(k.key_id for k in keys)
        if named and not named & trusted:  # the hints are unauthenticated: they only choose the wording
            shown = next((keyid for keyid, _ in envelope.signatures if keyid), bundle.hint)
            raise InvalidSignature(f"{sig_path}: signed by another key ({shown}), not by the trusted key id {ids}",
                                   other_key=True)
        raise InvalidSignature(f"{sig_path}: the signature does not verify with key id {ids} "
                               "(the signed statement or the signature was altered)")
    if envelope.payload_type != PAYLOAD_TYPE:
        raise InvalidSignature(f"{sig_path}: payloadType is {envelope.payload_type!r}, expected {PAYLOAD_TYPE!r}")
    try:
        return signer, parse_statement(envelope.payload)
    except InvalidSignature as exc:
        raise InvalidSignature(f"{sig_path}: {exc}") from None


def _compare(root: Path, sig_path: Path, manifest: Manifest, workers: int | None, progress: Progress | None
             ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Walk and re-hash the model with the signed ignore paths; names of modified, missing and added files."""
    # bundles from before model-signing 1.1 record no ignore paths: the defaults applied then, as the spec says
    recorded = DEFAULT_IGNORE if manifest.ignore_paths is None else manifest.ignore_paths
    ignore = frozenset({_lenient(p) for p in recorded} | set(_inside(root, sig_path)))
    entries = list_files(root, ignore, strict=False)
    signed = manifest.digests()
    single = len(entries) == 1 and entries[0].name == SINGLE_FILE
    if single and SINGLE_FILE not in signed and list(signed) == [root.name]:
        entries = [FileEntry(root.name, entries[0].path, entries[0].size)]  # the OMS spec's basename naming
    digests = hash_files([e for e in entries if e.name in signed], workers=workers, progress=progress)
    changes = compare(signed, entries, digests)
    if single or list(signed) == [SINGLE_FILE]:  # show a single-file model by its name, not "."
        modified, missing, added = (tuple(root.name if n == SINGLE_FILE else n for n in names) for names in changes)
        return modified, missing, added
    return changes


def _lenient(path: str) -> str:
    """A recorded ignore path in canonical form (other signers may write ``./x`` or ``x/``)."""
    return "/".join(part for part in path.split("/") if part not in ("", "."))
