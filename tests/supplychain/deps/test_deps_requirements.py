"""pip requirements files: realistic syntax, includes and constraints, and hostile input."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.supplychain.deps.interface import Dependency, ManifestError, ManifestLimits
from bastion.supplychain.deps.manifests import recognise
from bastion.supplychain.deps.requirements import RequirementsSource

SOURCE = RequirementsSource()


def parse(path: Path, limits: ManifestLimits | None = None) -> tuple[dict[str, Dependency], tuple[str, ...]]:
    manifest = SOURCE.parse(path, str(path), limits or ManifestLimits())
    return {d.name: d for d in manifest.dependencies}, manifest.problems


def test_realistic_file_with_continuations_hashes_markers_and_extras(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(
        "# pinned with pip-compile — café\n"  # a multi-byte comment shifts later byte offsets
        "Django==3.0.1 \\\n"
        "    --hash=sha256:aaaa \\\n"
        "    --hash sha256:bbbb\n"
        "requests[socks,security]==2.25.0  # trailing comment\n"
        "pywin32==300 ; sys_platform == 'win32'\n"
        "\n"
        "--index-url https://user:secret@example.com/simple\n"
        "Typing_Extensions===4.0.0\n", "utf-8")
    deps, problems = parse(path)
    assert problems == ()
    django = deps["django"]
    assert (django.version, django.line, django.hashes) == ("3.0.1", 2, ("sha256:aaaa", "sha256:bbbb"))
    assert django.offset == len("# pinned with pip-compile — café\n".encode())
    assert deps["requests"].extras == ("security", "socks") and deps["requests"].line == 5
    assert deps["pywin32"].applicable is False and deps["pywin32"].auditable  # kept, and still audited
    assert deps["typing-extensions"].version == "4.0.0"
    assert all(d.source == str(path) for d in deps.values())


@pytest.mark.parametrize(("line", "reason"), [
    ("flask>=1.0", "not pinned to one version: >=1.0"),
    ("flask", "no version constraint"),
    ("flask==1.*", "not pinned to one version: ==1.*"),
    ("flask~=1.0", "not pinned to one version: ~=1.0"),
    ("flask==1.0,!=1.0", "not pinned to one version: !=1.0,==1.0"),
    ("flask @ https://tok:en@example.com/flask-1.0.tar.gz", "installed from a URL"),
    ("git+https://github.com/pallets/flask.git@1.0#egg=flask", "installed from a git checkout"),
    ("./vendor/flask", "installed from a local path"),
    ("flask-1.0-py3-none-any.whl", "installed from a local path"),
    ("-e git+https://github.com/pallets/flask.git#egg=flask", "editable install; from a git checkout"),
    ("flask==${FLASK_VERSION}", "names an environment variable"),
])
def test_unpinned_and_direct_references_are_unaudited(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(line + "\n")
    deps, problems = parse(path)
    assert problems == ()
    (dependency,) = deps.values()
    assert dependency.name == "flask" and not dependency.auditable
    assert dependency.unaudited is not None and dependency.unaudited.startswith(reason)
    assert "tok:en" not in dependency.requirement() and "tok:en" not in dependency.unaudited


def test_includes_constraints_cycles_and_diamonds(tmp_path: Path) -> None:
    (tmp_path / "reqs").mkdir()
    (tmp_path / "requirements.txt").write_text("-r reqs/base.txt\n--requirement=reqs/extra.txt\n-c constraints.txt\n"
                                               "urllib3>=1.20\n")
    (tmp_path / "reqs" / "base.txt").write_text("-r ../requirements.txt\nsix==1.16.0\n")  # a cycle back to the top
    (tmp_path / "reqs" / "extra.txt").write_text("-rbase.txt\nidna==2.5\n")  # base again: a diamond
    (tmp_path / "constraints.txt").write_text("urllib3==1.24.1\nnever-installed==1.0\n")
    manifest = SOURCE.parse(tmp_path / "requirements.txt", "proj/requirements.txt", ManifestLimits())
    names = [d.name for d in manifest.dependencies]
    assert names == ["six", "idna", "urllib3"]  # each file read once; constraints install nothing
    six, _, urllib3 = manifest.dependencies
    assert six.source == "proj/reqs/base.txt" and six.line == 2
    assert urllib3.version == "1.24.1" and urllib3.resolved_by == "proj/constraints.txt line 1"
    assert manifest.problems == ()
    assert set(manifest.files) == {"proj/requirements.txt", "proj/reqs/base.txt", "proj/reqs/extra.txt",
                                   "proj/constraints.txt"}


def test_constraint_outside_the_range_does_not_pin(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-c c.txt\nurllib3>=2\n")
    (tmp_path / "c.txt").write_text("urllib3==1.26.0\n")
    deps, _ = parse(tmp_path / "requirements.txt")
    assert deps["urllib3"].version is None and not deps["urllib3"].auditable


def test_hostile_includes_are_refused_and_named(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("evil==1.0\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text(
        "-r ../outside.txt\n-r /etc/passwd\n-r https://example.com/r.txt\n-r missing.txt\n-r ${HOME}/r.txt\n"
        "--frobnicate\nnot a requirement !!\nok==1.0\n")
    deps, problems = parse(project / "requirements.txt")
    assert list(deps) == ["ok"]
    text = "\n".join(problems)
    assert "line 1" in text and "outside" in text and "/etc/passwd" in text
    assert "remote" in text and "does not exist" in text and "environment variable" in text
    assert "line 6: unknown option '--frobnicate'" in text
    assert "line 7: invalid requirement" in text
    assert len(problems) == 7


def test_include_depth_and_file_count_are_bounded(tmp_path: Path) -> None:
    for index in range(6):
        (tmp_path / f"r{index}.txt").write_text(f"-r r{index + 1}.txt\npkg{index}==1.0\n")
    (tmp_path / "r6.txt").write_text("last==1.0\n")
    deps, problems = parse(tmp_path / "r0.txt", ManifestLimits(max_include_depth=3))
    assert sorted(deps) == ["pkg0", "pkg1", "pkg2", "pkg3"]
    assert problems and "nested deeper than 3" in problems[0]
    _, problems = parse(tmp_path / "r0.txt", ManifestLimits(max_files=2))
    assert problems and "more than 2 included files" in problems[0]


def test_size_lines_encoding_and_binary_bounds(tmp_path: Path) -> None:
    big = tmp_path / "requirements.txt"
    big.write_text("a==1.0\n" * 2000)
    with pytest.raises(ManifestError, match="larger than the 1,000-byte limit"):
        parse(big, ManifestLimits(max_bytes=1000))
    deps, problems = parse(big, ManifestLimits(max_lines=10))
    assert problems and "more than 10 lines" in problems[0]
    bad = tmp_path / "requirements-bad.txt"
    bad.write_bytes(b"flask==1.0\n\xff\xfe\n")
    with pytest.raises(ManifestError, match="not UTF-8"):
        parse(bad)
    many = tmp_path / "requirements-many.txt"
    many.write_text("".join(f"p{i}==1.0\n" for i in range(50)))
    with pytest.raises(ManifestError, match="more than 20 dependencies"):
        parse(many, ManifestLimits(max_dependencies=20))


def test_editable_local_project_is_named_by_its_path(tmp_path: Path) -> None:
    path = tmp_path / "requirements-dev.txt"
    path.write_text("-e .[dev]\n--editable=../libs/shared_utils\n")
    manifest = SOURCE.parse(path, str(path), ManifestLimits())
    assert [d.name for d in manifest.dependencies] == [".[dev]", "shared-utils"]
    assert all(d.unaudited and d.unaudited.startswith("editable install") for d in manifest.dependencies)


def test_backslash_at_end_of_file_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"\xef\xbb\xbfsix==1.16.0 \\")
    deps, problems = parse(path)
    assert deps["six"].version == "1.16.0" and deps["six"].offset == 3 and problems == ()


@pytest.mark.parametrize(("name", "kind"), [
    ("requirements.txt", "requirements"), ("requirements-dev.txt", "requirements"),
    ("dev-requirements.txt", "requirements"), ("requirements/base.txt", "requirements"),
    ("notes.txt", None), ("requirements.txt.bak", None), ("model.bin", None),
])
def test_recognised_by_name(tmp_path: Path, name: str, kind: str | None) -> None:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("six==1.16.0\n")
    source = recognise(str(path), path)
    assert (source.kind if source else None) == kind


def test_binary_content_under_a_requirements_name_is_not_a_manifest(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"\x80\x04\x95\x00\x00")
    assert recognise(str(path), path) is None
    explicit = tmp_path / "deps.in"
    explicit.write_text("six==1.16.0\n")
    assert recognise(str(explicit), explicit) is None
    source = recognise(str(explicit), explicit, explicit=True)
    assert source is not None and source.kind == "requirements"
