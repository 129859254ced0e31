"""Model signing: round trips, tampering, malformed signature files, links, keys, DSSE vectors, interoperability."""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bastion.findings import Severity
from bastion.supplychain.signing import (
    SigningError,
    generate_keys,
    load_private_key,
    load_public_key,
    sign,
    signature_findings,
    verify,
    verify_trusted,
)
from bastion.supplychain.signing import bundle as bundle_module
from bastion.supplychain.signing.bundle import bundle_bytes
from bastion.supplychain.signing.dsse import b64decode, envelope_json, pae
from bastion.supplychain.signing.manifest import FileEntry, hash_files
from bastion.taxonomy import rule

REPO = Path(__file__).resolve().parents[2]
PEER_CLI = REPO / "benchmarks" / ".peers" / "sign-venv" / "bin" / "model_signing"


@pytest.fixture()
def keys(tmp_path: Path) -> tuple[Path, Path]:
    """An Ed25519 pair outside the model folder."""
    folder = tmp_path / "keys"
    folder.mkdir()
    pair = generate_keys(folder / "signer.pem")
    return pair.private_key, pair.public_key


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    """A small model folder with a nested file and a git folder that is left out by default."""
    root = tmp_path / "model"
    (root / "weights").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "config.json").write_text('{"arch": "tiny"}\n')
    (root / "weights" / "part-0.bin").write_bytes(bytes(range(256)) * 64)
    (root / "weights" / "part-1.bin").write_bytes(b"\x01" * 5000)
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root


def _statement(sig: Path) -> dict[str, Any]:
    envelope = json.loads(sig.read_text())["dsseEnvelope"]
    return json.loads(base64.b64decode(envelope["payload"]))


def _resign(sig: Path, private: Path, payload: bytes, payload_type: str = "application/vnd.in-toto+json") -> None:
    """Replace the signature with a valid one over ``payload`` (to test what happens after the signature checks)."""
    key = load_private_key(private)
    envelope = envelope_json(payload, [(key.public_key().key_id, key.sign(pae(payload_type, payload)))])
    envelope["payloadType"] = payload_type
    sig.write_bytes(bundle_bytes(envelope, key.public_key().hint))


# --- round trips -----------------------------------------------------------------------------------------------


def test_folder_round_trip(model: Path, keys: tuple[Path, Path]) -> None:
    result = sign(model, keys[0])
    assert result.signature_path == model.with_name("model.sig") and result.files == 3
    check = verify(model, keys[1])
    assert check.ok and check.error is None and check.files == 3
    assert check.key_id == result.key_id == load_public_key(keys[1]).key_id
    assert check.root_digest == result.root_digest


def test_single_file_round_trip_and_tamper_names_the_file(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\x00" * 10_000)
    sign(weights, keys[0])
    assert (tmp_path / "model.safetensors.sig").is_file()
    assert verify(weights, keys[1]).ok
    weights.write_bytes(b"\x00" * 9_999 + b"\x01")
    check = verify(weights, keys[1])
    assert not check.ok and check.modified == ("model.safetensors",)


def test_statement_has_the_openssf_model_signing_shape(model: Path, keys: tuple[Path, Path]) -> None:
    sig = sign(model, keys[0]).signature_path
    bundle = json.loads(sig.read_text())
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert bundle["verificationMaterial"]["publicKey"]["hint"] == hashlib.sha256(keys[1].read_bytes()).hexdigest()
    assert bundle["dsseEnvelope"]["payloadType"] == "application/vnd.in-toto+json"
    statement = _statement(sig)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://model_signing/signature/v1.0"
    serialization = statement["predicate"]["serialization"]
    assert serialization == {"method": "files", "hash_type": "sha256", "allow_symlinks": False,
                             "ignore_paths": [".git", ".gitattributes", ".github", ".gitignore"]}
    resources = statement["predicate"]["resources"]
    assert [r["name"] for r in resources] == ["config.json", "weights/part-0.bin", "weights/part-1.bin"]
    assert resources[1] == {"name": "weights/part-0.bin", "algorithm": "sha256",
                            "digest": hashlib.sha256(bytes(range(256)) * 64).hexdigest()}
    root = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in resources)).hexdigest()
    assert statement["subject"] == [{"name": "model", "digest": {"sha256": root}}]


# --- tampering -------------------------------------------------------------------------------------------------


def test_one_flipped_byte_is_named_as_modified(model: Path, keys: tuple[Path, Path]) -> None:
    sign(model, keys[0])
    part = model / "weights" / "part-0.bin"
    data = bytearray(part.read_bytes())
    data[8000] ^= 0x01
    part.write_bytes(bytes(data))
    check = verify(model, keys[1])
    assert not check.ok and check.error is None
    assert (check.modified, check.missing, check.added) == (("weights/part-0.bin",), (), ())


def test_deleted_and_added_files_are_named(model: Path, keys: tuple[Path, Path]) -> None:
    sign(model, keys[0])
    (model / "config.json").unlink()
    (model / "weights" / "extra.pkl").write_bytes(b"surprise")
    check = verify(model, keys[1])
    assert not check.ok
    assert (check.modified, check.missing, check.added) == ((), ("config.json",), ("weights/extra.pkl",))


def test_ignored_paths_may_change_freely(model: Path, keys: tuple[Path, Path]) -> None:
    sign(model, keys[0], ignore=[".git", "cache"])
    (model / ".git" / "HEAD").write_text("changed\n")
    (model / "cache").mkdir()
    (model / "cache" / "x.bin").write_bytes(b"x")
    (model / "weights" / ".git").mkdir()  # only root-level paths are ignored, as in model-signing
    (model / "weights" / ".git" / "config").write_text("nested\n")
    check = verify(model, keys[1])
    assert check.added == ("weights/.git/config",)


def test_signing_without_default_ignores_covers_git_files(model: Path, keys: tuple[Path, Path]) -> None:
    sig = sign(model, keys[0], ignore=[]).signature_path
    assert _statement(sig)["predicate"]["serialization"]["ignore_paths"] == []
    assert verify(model, keys[1]).ok  # an empty recorded list is not mistaken for "not recorded"
    (model / ".git" / "HEAD").write_text("changed\n")
    assert verify(model, keys[1]).modified == (".git/HEAD",)


def test_statement_without_ignore_paths_gets_the_defaults(model: Path, keys: tuple[Path, Path]) -> None:
    """Bundles from model-signing before 1.1 record no ignore paths; the default ones applied."""
    sig = sign(model, keys[0]).signature_path
    statement = _statement(sig)
    del statement["predicate"]["serialization"]["ignore_paths"]
    _resign(sig, keys[0], json.dumps(statement).encode())
    assert verify(model, keys[1]).ok


def test_signature_inside_the_folder_is_left_out_and_recorded(model: Path, keys: tuple[Path, Path]) -> None:
    sig = model / "model.sig"
    sign(model, keys[0], sig)
    assert "model.sig" in _statement(sig)["predicate"]["serialization"]["ignore_paths"]
    assert "model.sig" not in [r["name"] for r in _statement(sig)["predicate"]["resources"]]
    assert verify(model, keys[1], sig).ok


# --- keys and signatures that do not match ---------------------------------------------------------------------


def test_another_key_is_reported_as_such(model: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    sign(model, keys[0])
    stranger = generate_keys(tmp_path / "stranger.pem", "ecdsa-p256")
    check = verify(model, stranger.public_key)
    assert not check.ok and check.other_key
    assert check.error is not None and "signed by another key" in check.error
    assert check.key_id == stranger.key_id


def test_several_trusted_keys_accept_any_of_them(model: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    sign(model, keys[0])
    other = generate_keys(tmp_path / "other.pem")
    check = verify_trusted(model, [other.public_key, keys[1]])
    assert check.ok and check.key_id == load_public_key(keys[1]).key_id


def test_altered_signature_bytes_do_not_verify(model: Path, keys: tuple[Path, Path]) -> None:
    sig = sign(model, keys[0]).signature_path
    bundle = json.loads(sig.read_text())
    raw = bytearray(base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"]))
    raw[0] ^= 0x80
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
    sig.write_text(json.dumps(bundle))
    check = verify(model, keys[1])
    assert not check.ok and not check.other_key
    assert check.error is not None and "does not verify" in check.error


def test_edited_payload_is_never_trusted(model: Path, keys: tuple[Path, Path]) -> None:
    """Pointing the manifest at the tampered file's new digest breaks the signature over the payload."""
    sig = sign(model, keys[0]).signature_path
    (model / "config.json").write_text('{"arch": "evil"}\n')
    bundle = json.loads(sig.read_text())
    statement = _statement(sig)
    statement["predicate"]["resources"][0]["digest"] = hashlib.sha256(b'{"arch": "evil"}\n').hexdigest()
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    sig.write_text(json.dumps(bundle))
    check = verify(model, keys[1])
    assert not check.ok and check.error is not None and "does not verify" in check.error
    assert check.modified == () and check.root_digest is None


def test_swapped_payload_type_does_not_verify(model: Path, keys: tuple[Path, Path]) -> None:
    sig = sign(model, keys[0]).signature_path
    bundle = json.loads(sig.read_text())
    bundle["dsseEnvelope"]["payloadType"] = "application/vnd.example.other+json"
    sig.write_text(json.dumps(bundle))
    check = verify(model, keys[1])
    assert check.error is not None and "does not verify" in check.error


def test_signed_but_wrong_payload_type_is_refused(model: Path, keys: tuple[Path, Path]) -> None:
    sig = sign(model, keys[0]).signature_path
    payload = base64.b64decode(json.loads(sig.read_text())["dsseEnvelope"]["payload"])
    _resign(sig, keys[0], payload, payload_type="application/json")
    check = verify(model, keys[1])
    assert check.error is not None and "payloadType is 'application/json'" in check.error


@pytest.mark.parametrize(("edit", "message"), [
    (lambda s: s.update(predicateType="https://model_signing/Digests/v0.1"), "predicateType"),
    (lambda s: s.update(_type="https://in-toto.io/Statement/v0.1"), "_type"),
    (lambda s: s["predicate"]["resources"][0].update(name="../../etc/passwd"), "not a relative path"),
    (lambda s: s["predicate"]["resources"][0].update(algorithm="md5"), "not a sha256 digest"),
    (lambda s: s["predicate"]["serialization"].update(method="shards"), "'shards' is not supported"),
    (lambda s: s["predicate"]["serialization"].update(allow_symlinks=True), "allow_symlinks"),
    (lambda s: s["subject"][0]["digest"].update(sha256="0" * 64), "subject digest does not match"),
    (lambda s: s["predicate"].update(resources=[]), "resources is missing or empty"),
])
def test_signed_statement_that_is_wrong_is_refused(model: Path, keys: tuple[Path, Path], edit: Any,
                                                    message: str) -> None:
    sig = sign(model, keys[0]).signature_path
    statement = _statement(sig)
    edit(statement)
    _resign(sig, keys[0], json.dumps(statement).encode())
    check = verify(model, keys[1])
    assert not check.ok and check.error is not None and message in check.error, check.error
    assert str(sig) in check.error


@pytest.mark.parametrize(("content", "message"), [
    (b"not json at all", "not valid UTF-8 JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"mediaType": "application/json"}', "is not a Sigstore bundle v0.3"),
    (b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}', "dsseEnvelope is not a JSON object"),
    (b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "mediaType": "x"}', "appears twice"),
    (b"[" * 100_000 + b"]" * 100_000, "not valid UTF-8 JSON"),
])
def test_malformed_signature_files_are_refused_clearly(model: Path, keys: tuple[Path, Path], content: bytes,
                                                        message: str) -> None:
    sig = sign(model, keys[0]).signature_path
    sig.write_bytes(content)
    check = verify(model, keys[1])
    assert not check.ok and check.error is not None and message in check.error, check.error


@pytest.mark.parametrize(("field", "value", "message"), [
    ("payload", "***not base64***", "dsseEnvelope.payload is not valid base64"),
    ("payload", 17, "dsseEnvelope.payload is not a base64 string"),
    ("signatures", [], "signatures is missing or empty"),
    ("signatures", [{"sig": "%%%"}], "signatures[0].sig is not valid base64"),
    ("signatures", [{"sig": "AAAA"}] * 17, "at most 16"),
    ("payloadType", None, "payloadType is missing"),
])
def test_malformed_envelopes_are_refused_clearly(model: Path, keys: tuple[Path, Path], field: str, value: Any,
                                                 message: str) -> None:
    sig = sign(model, keys[0]).signature_path
    bundle = json.loads(sig.read_text())
    bundle["dsseEnvelope"][field] = value
    sig.write_text(json.dumps(bundle))
    check = verify(model, keys[1])
    assert not check.ok and check.error is not None and message in check.error, check.error


def test_oversized_signature_file_is_refused(model: Path, keys: tuple[Path, Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    sign(model, keys[0])
    monkeypatch.setattr(bundle_module, "MAX_SIGNATURE_BYTES", 100)
    check = verify(model, keys[1])
    assert check.error is not None and "larger than" in check.error


def test_missing_signature_or_model_is_a_usage_error(model: Path, keys: tuple[Path, Path]) -> None:
    with pytest.raises(SigningError, match="no such signature file"):
        verify(model, keys[1])
    with pytest.raises(SigningError, match="no such file or directory"):
        verify(model.with_name("absent"), keys[1])


# --- links, special files, odd trees ---------------------------------------------------------------------------


def test_signing_refuses_a_link_and_never_follows_it_out_of_the_tree(model: Path, keys: tuple[Path, Path],
                                                                     tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("password=hunter2\n")
    (model / "weights" / "leak.bin").symlink_to(secret)
    with pytest.raises(SigningError, match=r"leak\.bin: a symbolic link"):
        sign(model, keys[0])
    assert not model.with_name("model.sig").exists()


def test_signing_refuses_a_link_to_a_folder(model: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big.bin").write_bytes(b"x")
    (model / "more").symlink_to(outside, target_is_directory=True)
    with pytest.raises(SigningError, match="more: a symbolic link"):
        sign(model, keys[0])


def test_verify_reports_links_without_following_them(model: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    sign(model, keys[0])
    copy = tmp_path / "same-content.json"
    copy.write_bytes((model / "config.json").read_bytes())
    (model / "config.json").unlink()
    (model / "config.json").symlink_to(copy)  # same bytes behind the link: still not the signed file
    (model / "extra").symlink_to(tmp_path)
    check = verify(model, keys[1])
    assert (check.modified, check.added) == (("config.json",), ("extra",))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_special_files_are_refused_without_hanging(model: Path, keys: tuple[Path, Path]) -> None:
    os.mkfifo(model / "pipe")
    with pytest.raises(SigningError, match="pipe: not a regular file"):
        sign(model, keys[0])


@pytest.mark.skipif(sys.platform != "linux", reason="Linux file names are bytes")
def test_non_utf8_names_are_refused(model: Path, keys: tuple[Path, Path]) -> None:
    with open(os.fsencode(model) + b"/bad-\xff.bin", "wb") as handle:
        handle.write(b"x")
    with pytest.raises(SigningError, match="not valid UTF-8"):
        sign(model, keys[0])


def test_empty_model_and_key_inside_model_are_refused(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    empty = tmp_path / "empty"
    (empty / ".git").mkdir(parents=True)
    (empty / ".git" / "HEAD").write_text("x")
    with pytest.raises(SigningError, match="no files to sign"):
        sign(empty, keys[0])
    inside = generate_keys(empty / "key.pem")
    with pytest.raises(SigningError, match="inside the model folder"):
        sign(empty, inside.private_key)


@pytest.mark.parametrize("bad", ["/etc", "../up", "*.bin", ""])
def test_ignore_paths_must_be_exact_relative_paths(model: Path, keys: tuple[Path, Path], bad: str) -> None:
    with pytest.raises(SigningError, match="ignore path"):
        sign(model, keys[0], ignore=[bad])


# --- keys ------------------------------------------------------------------------------------------------------


def test_private_key_is_created_0600_and_never_overwritten(tmp_path: Path) -> None:
    pair = generate_keys(tmp_path / "k.pem")
    assert stat.S_IMODE(pair.private_key.stat().st_mode) == 0o600
    assert pair.public_key == tmp_path / "k.pem.pub" and b"BEGIN PUBLIC KEY" in pair.public_key.read_bytes()
    before = pair.private_key.read_bytes()
    with pytest.raises(SigningError, match="already exists"):
        generate_keys(tmp_path / "k.pem")
    assert pair.private_key.read_bytes() == before
    assert generate_keys(tmp_path / "k.pem", overwrite=True).key_id != pair.key_id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.pem", "k.pem.pub"]  # no temporary files left


def test_key_id_is_sha256_of_the_raw_public_key(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    pair = generate_keys(tmp_path / "k.pem")
    public = serialization.load_pem_public_key(pair.public_key.read_bytes())
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert pair.key_id == hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize("algorithm", ["ecdsa-p256", "ecdsa-p384", "ecdsa-p521"])
def test_ecdsa_keys_sign_and_verify(model: Path, tmp_path: Path, algorithm: str) -> None:
    pair = generate_keys(tmp_path / f"{algorithm}.pem", algorithm)
    sign(model, pair.private_key)
    assert verify(model, pair.public_key).ok


def test_encrypted_private_key_needs_its_password(model: Path, tmp_path: Path) -> None:
    pair = generate_keys(tmp_path / "enc.pem", password=b"correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in pair.private_key.read_bytes()
    with pytest.raises(SigningError, match="encrypted: set BASTION_KEY_PASSWORD"):
        sign(model, pair.private_key)
    with pytest.raises(SigningError, match="wrong password"):
        sign(model, pair.private_key, password=b"battery staple")
    sign(model, pair.private_key, password=b"correct horse")
    assert verify(model, pair.public_key).ok


def test_key_loading_errors_name_the_file_and_never_quote_it(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    with pytest.raises(SigningError, match="is a private key; verify with the public key"):
        load_public_key(keys[0])
    with pytest.raises(SigningError, match="this is a public key"):
        load_private_key(keys[1])
    with pytest.raises(SigningError, match="no such private key file"):
        load_private_key(tmp_path / "absent.pem")
    damaged = tmp_path / "damaged.pem"
    lines = keys[0].read_text().splitlines()
    damaged.write_text("\n".join([lines[0], "A" + lines[1][1:], *lines[2:]]) + "\n")
    with pytest.raises(SigningError) as caught:
        load_private_key(damaged)
    assert str(damaged) in str(caught.value) and lines[1][1:20] not in str(caught.value)
    rsa = tmp_path / "rsa.pem"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys

    key = rsa_keys.generate_private_key(public_exponent=65537, key_size=2048)
    rsa.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    with pytest.raises(SigningError, match="unsupported key type"):
        load_private_key(rsa)


# --- DSSE ------------------------------------------------------------------------------------------------------


def test_pae_and_signature_match_the_dsse_protocol_test_vector() -> None:
    """protocol.md: PAE of "hello world" as http://example.com/HelloWorld, ECDSA P-256 (raw r||s) over it."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from bastion.supplychain.signing.ecdsa import EcdsaVerifyingKey

    message = pae("http://example.com/HelloWorld", b"hello world")
    assert message == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    x = 46950820868899156662930047687818585632848591499744589407958293238635476079160
    y = 5640078356564379163099075877009565129882514886557779369047442380624545832820
    key = EcdsaVerifyingKey(ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key(), "ecdsa-p256")
    raw = b64decode("A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA==", "sig")
    signature = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    assert key.verify(signature, message)
    assert not key.verify(signature, message + b"!")


_RFC8032_KEY_1 = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
_STATEMENT_B64 = "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ=="
_STATEMENT_PAE = ("445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e203433207b225f74797065"
                  "223a2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e742f7631227d")


@pytest.mark.parametrize(("payload_type", "payload", "sig", "expected_pae"), [
    ("application/vnd.in-toto+json", _STATEMENT_B64,
     "2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA==", _STATEMENT_PAE),
    ("application/vnd.in-toto+json", "-_-_Pj8=",  # URL-safe alphabet: verifiers must accept it
     "P-_KHICeR7tI6S_YyejJTRtrXhcQyQ2LYPaL8h90KjC9qN8HU_svOQ6TuDOT1HIrsGW886DbWNWcCmX5twLrAw==",
     "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e203520fbffbf3e3f"),
    ("application/vnd.exämple+json", _STATEMENT_B64,  # LEN counts UTF-8 bytes (29), not characters (28)
     "xmSk/ug66ysT7ayhkCIjhAq42zgZXSsEWuzUaNL7w2eGAdF/NU6/fRXPtmfN+5DNSAs5/i2lUnHjbbjPsu0tAw==",
     "445353457631203239206170706c69636174696f6e2f766e642e6578c3a46d706c652b6a736f6e203433207b225f74797065223a"
     "2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e742f7631227d"),
    ("application/vnd.in-toto+json", "",  # an empty body still ends with "0 "
     "gSggCAaTLTYyRH6FIDBem6meyIynsYy8RTHVzwx9tnTb7Bg/1jMWnuVgI/gffqmbsC2VX5/jHfkkDqsj7CDbDg==",
     "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e203020"),
])
def test_dsse_ed25519_vectors(payload_type: str, payload: str, sig: str, expected_pae: str) -> None:
    """The DSSE repository's test vectors (testvectors/vectors.json, key A = RFC 8032 test key 1)."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from bastion.supplychain.signing.ed25519 import Ed25519VerifyingKey

    message = pae(payload_type, b64decode(payload, "payload"))
    assert message.hex() == expected_pae
    key = Ed25519VerifyingKey(ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(_RFC8032_KEY_1)))
    assert key.verify(b64decode(sig, "sig"), message)


# --- hashing ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 3, 8])
def test_parallel_hashing_matches_hashlib_at_chunk_boundaries(tmp_path: Path, workers: int) -> None:
    sizes = {"empty": 0, "one": 1, "chunk": 1 << 20, "chunk+1": (1 << 20) + 1, "big": 5 * (1 << 20) + 12345}
    entries = []
    for name, size in sizes.items():
        path = tmp_path / name
        path.write_bytes(hashlib.shake_256(name.encode()).digest(size) if size else b"")
        entries.append(FileEntry(name, path, size))
    progress: list[tuple[int, int]] = []
    digests = hash_files(entries, workers=workers, progress=lambda done, total: progress.append((done, total)))
    assert digests == {e.name: hashlib.sha256(e.path.read_bytes()).hexdigest() for e in entries}
    assert progress and progress[-1] == (sum(sizes.values()), sum(sizes.values()))


def test_unreadable_file_is_an_error_naming_it(model: Path, keys: tuple[Path, Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def refuse(path: Any, flags: int, *args: Any) -> int:
        if str(path).endswith("part-1.bin"):  # chmod 0 would not stop root, so refuse at the system call
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    for name in ("big-a.bin", "big-b.bin"):  # hashed first (largest first); stopped when the other file fails
        (model / "weights" / name).write_bytes(b"\x05" * (24 << 20))
    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(SigningError, match=r"part-1\.bin: cannot be read: Permission denied"):
        sign(model, keys[0], workers=3)
    assert not model.with_name("model.sig").exists()


# --- scan findings and catalogue -------------------------------------------------------------------------------


def test_scan_findings_for_unsigned_tampered_and_foreign_models(model: Path, keys: tuple[Path, Path],
                                                                tmp_path: Path) -> None:
    unsigned = signature_findings(str(model), [keys[1]])
    assert [(f.rule_id, f.severity) for f in unsigned] == [("BST-SIG-001", Severity.HIGH)]
    sign(model, keys[0])
    assert signature_findings(str(model), [keys[1]]) == ()
    (model / "weights" / "part-1.bin").write_bytes(b"\x02" * 5000)
    tampered = signature_findings(str(model), [keys[1]])
    assert [(f.rule_id, f.severity) for f in tampered] == [("BST-SIG-002", Severity.CRITICAL)]
    assert "modified: weights/part-1.bin" in tampered[0].detail
    stranger = generate_keys(tmp_path / "stranger.pem")
    foreign = signature_findings(str(model), [stranger.public_key])
    assert [(f.rule_id, f.severity) for f in foreign] == [("BST-SIG-003", Severity.HIGH)]


def test_signing_rules_are_in_the_catalogue() -> None:
    assert rule("BST-SIG-001").severity is Severity.HIGH
    assert rule("BST-SIG-002").severity is Severity.CRITICAL
    assert rule("BST-SIG-003").severity is Severity.HIGH
    assert "OpenSSF-OMS" in rule("BST-SIG-002").refs


def test_importing_the_package_does_not_import_cryptography() -> None:
    code = "import sys, bastion.supplychain.signing; print('cryptography' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


# --- interoperability with OpenSSF model-signing ---------------------------------------------------------------

_PEER_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEi1SEa/11Qep8SyR9oEl4Kg9HRmIB
KEdXLOFKAdZ/2ovrXoCXREQwCzY7jdJOA/Cz/g3rQHVJrSsVzlX84o+4DA==
-----END PUBLIC KEY-----
"""
_PEER_PAYLOAD = (
    "ewogICJfdHlwZSI6ICJodHRwczovL2luLXRvdG8uaW8vU3RhdGVtZW50L3YxIiwKICAic3ViamVjdCI6IFsKICAgIHsKICAg"
    "ICAgIm5hbWUiOiAibW9kZWwiLAogICAgICAiZGlnZXN0IjogewogICAgICAgICJzaGEyNTYiOiAiYmNjNGQzNGY1MmQwNjI1NDIxZTZhYWE5"
    "ZThhZDk5OGFjMjY4ZjM2OGRiYzE3ZTlkMTNlYWVhNzdhNDcxNDExZSIKICAgICAgfQogICAgfQogIF0sCiAgInByZWRpY2F0ZVR5cGUiOiAi"
    "aHR0cHM6Ly9tb2RlbF9zaWduaW5nL3NpZ25hdHVyZS92MS4wIiwKICAicHJlZGljYXRlIjogewogICAgInNlcmlhbGl6YXRpb24iOiB7CiAg"
    "ICAgICJtZXRob2QiOiAiZmlsZXMiLAogICAgICAiYWxsb3dfc3ltbGlua3MiOiBmYWxzZSwKICAgICAgImhhc2hfdHlwZSI6ICJzaGEyNTYi"
    "LAogICAgICAiaWdub3JlX3BhdGhzIjogWwogICAgICAgICIuZ2l0YXR0cmlidXRlcyIsCiAgICAgICAgIi5naXQiLAogICAgICAgICIuZ2l0"
    "aHViIiwKICAgICAgICAiLmdpdGlnbm9yZSIKICAgICAgXQogICAgfSwKICAgICJyZXNvdXJjZXMiOiBbCiAgICAgIHsKICAgICAgICAibmFt"
    "ZSI6ICJjb25maWcuanNvbiIsCiAgICAgICAgImRpZ2VzdCI6ICJhYThhNmUwNWQ0ZjM3MTA0NWRmZDUwNGMxNThmZDlkMWFmZTUwNjNlMTAw"
    "ZWJjOWE5NjM0NjdiYTM5ZTAwYTJjIiwKICAgICAgICAiYWxnb3JpdGhtIjogInNoYTI1NiIKICAgICAgfSwKICAgICAgewogICAgICAgICJu"
    "YW1lIjogInN1Yi93MS5iaW4iLAogICAgICAgICJkaWdlc3QiOiAiMWVkNGRkNWQ3ZjdkY2JhNTRhZWEyNGNhYWNmOWVlMzE0YzZkNjI2MzUy"
    "ZWE2OWEwNjA0Y2I0NjFhNWZkMDdhZCIsCiAgICAgICAgImFsZ29yaXRobSI6ICJzaGEyNTYiCiAgICAgIH0sCiAgICAgIHsKICAgICAgICAi"
    "bmFtZSI6ICJ3MC5iaW4iLAogICAgICAgICJkaWdlc3QiOiAiNDk4YzM0YzllMTk4NTViODhiODZiZjllZmNiYmI5YTc4YWVlMDZiNjJjMzBk"
    "ZDFkYTEwNDlkYjU2NzJiMGQ5MSIsCiAgICAgICAgImFsZ29yaXRobSI6ICJzaGEyNTYiCiAgICAgIH0KICAgIF0KICB9Cn0="
)
_PEER_BUNDLE = json.dumps({
    "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
    "verificationMaterial": {"publicKey": {"hint": "07744a1c2933bea11c40903f53a033685306984e3bf64c6e669525357418e20f"},
                             "tlogEntries": []},
    "dsseEnvelope": {"payload": _PEER_PAYLOAD, "payloadType": "application/vnd.in-toto+json", "signatures": [
        {"sig": "MEUCIQCaM0NsMriA6Z7uQnrmnycTkKh0HBjxHynMeUo3suuChgIgIfBpzb3uARd9+SaWlFRHlkY8k9ShQ9/ChQS1cWA3ric=",
         "keyid": ""}]},
})
"""``model_signing sign key model --private_key ec.pem`` (model-signing 1.1.1, ECDSA P-256) over ``_peer_model``."""


def _peer_model(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "w0.bin").write_bytes(b"weights-0\n")
    (root / "config.json").write_bytes(b'{"arch": "tiny"}\n')
    (root / "sub" / "w1.bin").write_bytes(b"w1\n")
    (root / ".gitattributes").write_bytes(b"* text\n")
    return root


def test_verifies_a_bundle_written_by_model_signing(tmp_path: Path) -> None:
    model = _peer_model(tmp_path / "model")
    (tmp_path / "model.sig").write_text(_PEER_BUNDLE)
    (tmp_path / "ec.pub").write_text(_PEER_PUBLIC_KEY)
    check = verify(model, tmp_path / "ec.pub")
    assert check.ok and check.files == 3, check
    (model / "sub" / "w1.bin").write_bytes(b"w2\n")
    assert verify(model, tmp_path / "ec.pub").modified == ("sub/w1.bin",)


@pytest.mark.skipif(not PEER_CLI.exists(), reason="model-signing is installed by benchmarks/sign_bench.py")
def test_model_signing_verifies_bastion_ecdsa_bundles(tmp_path: Path, model: Path) -> None:
    pair = generate_keys(tmp_path / "ec.pem", "ecdsa-p256")
    sig = sign(model, pair.private_key).signature_path

    def peer_verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(PEER_CLI), "verify", "key", str(model), "--signature", str(sig),
                               "--public_key", str(pair.public_key)], capture_output=True, text=True, timeout=120)

    run = peer_verify()
    assert run.returncode == 0, run.stdout + run.stderr
    (model / "config.json").write_text("{}\n")
    assert peer_verify().returncode != 0
