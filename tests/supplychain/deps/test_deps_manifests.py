"""pyproject.toml (PEP 621, Poetry), lock files, Pipfile, pylock.toml, conda environments and installed metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bastion.supplychain.deps.conda import conda_dependency
from bastion.supplychain.deps.environment import installed
from bastion.supplychain.deps.interface import CONDA, Dependency, Manifest, ManifestError, ManifestLimits
from bastion.supplychain.deps.manifests import read_manifest, recognise
from bastion.supplychain.deps.pyproject import poetry_constraint


def read(path: Path) -> Manifest:
    source = recognise(str(path), path)
    assert source is not None, f"{path.name} not recognised"
    return read_manifest(source, path, str(path), ManifestLimits())


def by_name(manifest: Manifest) -> dict[str, Dependency]:
    return {d.name: d for d in manifest.dependencies}


PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]

[project]
name = "demo"
dependencies = [
    "Django==3.0.1",
    "requests>=2.0",
    'pywin32==300; sys_platform == "win32"',
]

[project.optional-dependencies]
gpu = ["torch==2.0.0"]

[dependency-groups]
test = ["pytest==7.0.0", {include-group = "lint"}]
lint = ["ruff"]
"""


def test_pep621_dependencies_optional_and_groups(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(PYPROJECT)
    manifest = read(path)
    deps = by_name(manifest)
    assert set(deps) == {"django", "requests", "pywin32", "torch", "pytest", "ruff"}  # not setuptools (build)
    assert deps["django"].version == "3.0.1" and deps["django"].line == 7
    assert deps["pywin32"].line == 9 and deps["pywin32"].applicable is False
    assert deps["torch"].group == "optional-dependencies.gpu" and deps["torch"].line == 13
    assert deps["requests"].unaudited == "not pinned to one version: >=2.0"
    assert deps["ruff"].group == "dependency-groups.lint" and not deps["ruff"].auditable
    assert manifest.kind == "pyproject" and manifest.problems == ()


POETRY = """\
[tool.poetry]
name = "demo"

[tool.poetry.dependencies]
python = "^3.9"
requests = "^2.25.1"
Flask = "1.0.2"
numpy = { version = "~1.21", extras = ["x"] }
mylib = { git = "https://github.com/me/mylib.git", tag = "v1" }
local = { path = "../local" }
urllib3 = [
    { version = "==1.26.0", markers = "python_version < '3.10'" },
    { version = "2.0.0", markers = "python_version >= '3.10'" },
]
bad = 7

[tool.poetry.group.dev.dependencies]
pytest = "==7.1.0"
"""


def test_poetry_tables_constraints_and_sources(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(POETRY)
    manifest = read(path)
    deps = manifest.dependencies
    names = [d.name for d in deps]
    assert names == ["requests", "flask", "numpy", "mylib", "local", "urllib3", "urllib3", "pytest"]
    found = by_name(manifest)
    assert found["requests"].specifier == ">=2.25.1,<3" and not found["requests"].auditable
    assert found["flask"].version == "1.0.2" and found["flask"].line == 7
    assert found["numpy"].specifier == ">=1.21,<1.22" and found["numpy"].extras == ("x",)
    assert found["mylib"].unaudited is not None and "git checkout" in found["mylib"].unaudited
    assert found["local"].unaudited is not None and "local path" in found["local"].unaudited
    assert [d.version for d in deps if d.name == "urllib3"] == ["1.26.0", "2.0.0"]
    assert found["pytest"].group == "group.dev" and found["pytest"].version == "7.1.0"
    assert len(manifest.problems) == 1 and "'bad'" in manifest.problems[0] and "line 15" in manifest.problems[0]


@pytest.mark.parametrize(("constraint", "specifier", "version"), [
    ("^1.2.3", ">=1.2.3,<2", None), ("^0.2.3", ">=0.2.3,<0.3", None), ("^0.0.3", ">=0.0.3,<0.0.4", None),
    ("^0", ">=0,<1", None), ("^1", ">=1,<2", None), ("~1.2.3", ">=1.2.3,<1.3", None), ("~1.2", ">=1.2,<1.3", None),
    ("~1", ">=1,<2", None), ("~=1.2", "~=1.2", None), ("1.2.3", "==1.2.3", "1.2.3"), ("==1.2.3", "==1.2.3", "1.2.3"),
    ("*", "", None), ("1.2.*", "==1.2.*", None), (">=1.2, <1.5", ">=1.2,<1.5", None),
    (">=1.2 <1.5", ">=1.2,<1.5", None), ("^1.0 || ^2.0", None, None),
])
def test_poetry_constraint_conversion(constraint: str, specifier: str | None, version: str | None) -> None:
    assert poetry_constraint(constraint) == (specifier, version)


def test_poetry_constraint_rejects_words() -> None:
    with pytest.raises(ValueError, match="not a version"):
        poetry_constraint("latest")


POETRY_LOCK = """\
[[package]]
name = "Django"
version = "3.0.1"
category = "main"
files = [{file = "Django-3.0.1.tar.gz", hash = "sha256:abc"}]

[[package]]
name = "mylib"
version = "1.0.0"
groups = ["main"]

[package.source]
type = "git"
url = "https://github.com/me/mylib.git"
reference = "v1"

[[package]]
name = "requests"
version = "2.0.0"
groups = ["dev"]
markers = "sys_platform == 'win32'"
"""


def test_poetry_lock(tmp_path: Path) -> None:
    path = tmp_path / "poetry.lock"
    path.write_text(POETRY_LOCK)
    deps = by_name(read(path))
    assert deps["django"].version == "3.0.1" and deps["django"].line == 2 and deps["django"].hashes == ("sha256:abc",)
    assert deps["mylib"].unaudited is not None and not deps["mylib"].auditable
    assert deps["requests"].line == 18 and deps["requests"].group == "dev" and deps["requests"].applicable is False


UV_LOCK = """\
version = 1
requires-python = ">=3.11"

[[package]]
name = "demo"
version = "0.1.0"
source = { editable = "." }

[[package]]
name = "jinja2"
version = "2.10"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files/jinja2-2.10.tar.gz", hash = "sha256:f00", size = 1 }
wheels = [{ url = "https://files/jinja2-2.10-py3-none-any.whl", hash = "sha256:ba2", size = 1 }]

[[package]]
name = "tool"
version = "0.3.0"
source = { git = "https://github.com/me/tool?rev=abc#abc" }

[[package]]
name = "sibling"
version = "0.1.0"
source = { directory = "../sibling" }
"""


def test_uv_lock_skips_the_project_and_audits_registry_packages(tmp_path: Path) -> None:
    path = tmp_path / "uv.lock"
    path.write_text(UV_LOCK)
    deps = by_name(read(path))
    assert set(deps) == {"jinja2", "tool", "sibling"}
    assert deps["jinja2"].version == "2.10" and deps["jinja2"].line == 10 and len(deps["jinja2"].hashes) == 2
    assert deps["jinja2"].auditable and not deps["tool"].auditable and not deps["sibling"].auditable


def test_pyproject_ranges_resolve_through_the_lock_beside_it(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\ndependencies = ["jinja2>=2", "flask>=1", "markupsafe<2", "tool"]\n')
    (tmp_path / "uv.lock").write_text(UV_LOCK + '\n[[package]]\nname = "markupsafe"\nversion = "2.1.0"\n'
                                      'source = { registry = "https://pypi.org/simple" }\n')
    manifest = read(tmp_path / "pyproject.toml")
    deps = by_name(manifest)
    assert deps["jinja2"].version == "2.10" and deps["jinja2"].resolved_by == str(tmp_path / "uv.lock")
    assert deps["jinja2"].line == 3  # still reported where it is declared
    assert deps["flask"].unaudited is not None and "does not lock it" in deps["flask"].unaudited
    assert deps["markupsafe"].unaudited is not None and "the lock is stale" in deps["markupsafe"].unaudited
    assert deps["tool"].unaudited is not None and "does not lock it" in deps["tool"].unaudited  # lock entry is git
    assert str(tmp_path / "uv.lock") in manifest.files


def test_unreadable_lock_leaves_ranges_unaudited_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "d"\ndependencies = ["jinja2>=2"]\n')
    (tmp_path / "poetry.lock").write_text("[[package]\nname=")
    manifest = read(tmp_path / "pyproject.toml")
    assert not manifest.dependencies[0].auditable
    assert len(manifest.problems) == 1 and "poetry.lock: not valid TOML" in manifest.problems[0]


def test_pipfile_and_its_lock(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text(
        '[[source]]\nurl = "https://pypi.org/simple"\n\n[packages]\nrequests = "*"\ndjango = "==3.0.1"\n'
        'mylib = {git = "https://github.com/me/mylib.git", ref = "v1"}\n\n[dev-packages]\npytest = {version = ">=7"}\n'
        '\n[requires]\npython_version = "3.11"\n')
    lock = {"_meta": {"hash": {"sha256": "x"}},
            "default": {"requests": {"version": "==2.19.0", "hashes": ["sha256:1"], "markers": "python_version >= '3'"},
                        "django": {"version": "==3.0.1"},
                        "mylib": {"git": "https://github.com/me/mylib.git", "ref": "abc"}},
            "develop": {"pytest": {"version": "==7.0.0"}}}
    (tmp_path / "Pipfile.lock").write_text(json.dumps(lock, indent=4))
    pipfile = by_name(read(tmp_path / "Pipfile"))
    assert pipfile["requests"].version == "2.19.0" and pipfile["requests"].resolved_by is not None
    assert pipfile["django"].version == "3.0.1" and pipfile["django"].resolved_by is None
    assert pipfile["pytest"].group == "dev-packages" and pipfile["pytest"].version == "7.0.0"
    assert not pipfile["mylib"].auditable
    locked = read(tmp_path / "Pipfile.lock")
    deps = by_name(locked)
    assert deps["requests"].version == "2.19.0" and deps["requests"].line == 8 and deps["requests"].hashes
    assert deps["pytest"].group == "develop" and not deps["mylib"].auditable


def test_pipfile_lock_that_is_not_json_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "Pipfile.lock"
    path.write_text("{" + "[" * 100_000)
    source = recognise(str(path), path)
    assert source is not None
    with pytest.raises(ManifestError, match="Pipfile.lock: not valid JSON"):
        source.parse(path, str(path), ManifestLimits())


PYLOCK = """\
lock-version = "1.0"
created-by = "test"

[[packages]]
name = "attrs"
version = "25.1.0"
index = "https://pypi.org/simple"

[[packages.wheels]]
url = "https://files/attrs-25.1.0-py3-none-any.whl"
hashes = {sha256 = "c75a69e28a550a7e93789579c22aa26b0f5b83b75dc4e08fe092980051e1090a"}

[[packages]]
name = "tool"
version = "1.0"
vcs = { type = "git", url = "https://github.com/me/tool", commit-id = "abc" }

[[packages]]
name = "local"
directory = { path = "../local" }

[[packages]]
name = "urllib3"
version = "1.24.1"
marker = "python_version < '3'"
archive = { url = "https://files/urllib3-1.24.1.tar.gz", hashes = {sha256 = "abc"} }
"""


def test_pylock(tmp_path: Path) -> None:
    path = tmp_path / "pylock.toml"
    path.write_text(PYLOCK)
    deps = by_name(read(path))
    assert deps["attrs"].version == "25.1.0" and deps["attrs"].line == 5 and deps["attrs"].auditable
    assert deps["attrs"].hashes[0].startswith("sha256:c75a")
    assert not deps["tool"].auditable and not deps["local"].auditable and not deps["urllib3"].auditable
    assert deps["urllib3"].applicable is False
    named = tmp_path / "pylock.gpu.toml"
    named.write_text(PYLOCK)
    assert recognise(str(named), named) is not None
    plain = tmp_path / "pylock.toml"
    plain.write_text('[[packages]]\nname = "x"\n')  # no lock-version: not PEP 751
    assert recognise(str(plain), plain) is None


CONDA_ENV = """\
name: ml
channels: [pytorch, conda-forge]
dependencies:
  - python=3.11
  - conda-forge::numpy=1.21.0=py311h1234_0
  - pytorch==1.12.0
  - scipy 1.7.0 py39_0
  - pandas>=1.0
  - openssl
  - cudatoolkit=11.*
  - pip
  - pip:
      - requests==2.19.0
      - -r requirements.txt
  - pip: not-a-list
  - pip: [{nested: map}]
"""


def test_conda_environment_with_pip_section(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    path = tmp_path / "environment.yml"
    path.write_text(CONDA_ENV)
    manifest = read(path)
    deps = by_name(manifest)
    assert deps["numpy"].version == "1.21.0" and deps["numpy"].ecosystem == CONDA and deps["numpy"].line == 5
    assert deps["torch"].version == "1.12.0" and deps["torch"].group == "conda (pytorch)"
    assert deps["scipy"].version == "1.7.0"
    assert not deps["pandas"].auditable and not deps["openssl"].auditable and not deps["cudatoolkit"].auditable
    assert deps["requests"].version == "2.19.0" and deps["requests"].ecosystem == "PyPI"
    assert deps["requests"].group == "pip" and deps["requests"].line == 13
    assert deps["six"].source == str(tmp_path / "requirements.txt")
    assert [p.split(": ", 1)[0].rsplit(" ", 2)[-2:] for p in manifest.problems] == [["line", "15"], ["line", "16"]]


@pytest.mark.parametrize(("spec", "name", "version"), [
    ("numpy", "numpy", None), ("numpy=1.21.0", "numpy", "1.21.0"), ("numpy==1.21.0", "numpy", "1.21.0"),
    ("numpy=1.21.0=py39h_0", "numpy", "1.21.0"), ("numpy 1.21.0 py39_0", "numpy", "1.21.0"),
    ("conda-forge/linux-64::numpy=1.21.0", "numpy", "1.21.0"), ("numpy=1.21.*", "numpy", None),
    ("numpy>=1.21,<2", "numpy", None), ("numpy[version='>=1.21']", "numpy", None),
    ("py-xgboost=1.5.0", "xgboost", "1.5.0"), ("msgpack-python=1.0.2", "msgpack", "1.0.2"),
])
def test_conda_specs(spec: str, name: str, version: str | None) -> None:
    dependency = conda_dependency(spec, "environment.yml", 1, 0)
    assert (dependency.name, dependency.version) == (name, version)
    assert dependency.auditable == (version is not None)


@pytest.mark.parametrize(("text", "error"), [
    ("dependencies: [\n  - a\n", "line 2: not valid YAML"),  # a block entry inside a flow sequence
    ("dependencies: []\n---\nb: 2\n", "line 2: not valid YAML"),  # two documents
    ("dependencies: {a: 1}\n", "line 1: 'dependencies' is not a list"),
])
def test_invalid_yaml_is_an_error_naming_the_file_and_line(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "environment.yml"
    path.write_text(text)
    with pytest.raises(ManifestError, match=f"environment.yml {error}"):
        read(path)


def test_deeply_nested_yaml_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "environment.yml"
    path.write_text("dependencies:\n  - " + "[" * 5000 + "]" * 5000 + "\n  - six=1.16.0\n")
    if _pyyaml_version() >= (6, 0, 4):  # PyYAML 6.0.4 refuses the document itself: the whole file is the problem
        with pytest.raises(ManifestError, match="line 2: not valid YAML: exceeded maximum nesting depth"):
            read(path)
        return
    manifest = read(path)
    assert [d.name for d in manifest.dependencies] == ["six"]
    assert len(manifest.problems) == 1 and "line 2" in manifest.problems[0]


def _pyyaml_version() -> tuple[int, ...]:
    import yaml

    return tuple(int(part) for part in yaml.__version__.split(".")[:3] if part.isdigit())


def test_yaml_tags_and_aliases_build_nothing(tmp_path: Path) -> None:
    path = tmp_path / "environment.yaml"
    path.write_text("x: &a !!python/object/apply:os.system ['echo pwned']\n"
                    "dependencies:\n  - &n numpy=1.21.0\n  - *n\n  - !!python/name:os.system\n")
    manifest = read(path)
    assert [d.name for d in manifest.dependencies] == ["numpy", "numpy"]
    assert len(manifest.problems) == 1 and "line 5" in manifest.problems[0]  # the tagged empty scalar


def _dist_info(site: Path, name: str, version: str, direct_url: dict[str, object] | None = None) -> None:
    folder = site / f"{name}-{version}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if direct_url is not None:
        (folder / "direct_url.json").write_text(json.dumps(direct_url))


def test_installed_distributions(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    _dist_info(site, "Django", "3.0.1")
    _dist_info(site, "mylib", "1.0", {"url": "https://github.com/me/mylib", "vcs_info": {"vcs": "git"}})
    _dist_info(site, "proj", "0.1", {"url": "file:///src/proj", "dir_info": {"editable": True}})
    _dist_info(site, "wheel-from-url", "1.0", {"url": "https://example.com/w.whl", "archive_info": {}})
    manifest = installed([str(site)])
    deps = by_name(manifest)
    assert deps["django"].version == "3.0.1" and deps["django"].auditable
    assert deps["django"].source.endswith("Django-3.0.1.dist-info")
    assert deps["mylib"].unaudited is not None and "git checkout" in deps["mylib"].unaudited
    assert deps["proj"].unaudited is not None and deps["proj"].unaudited.startswith("editable install")
    assert deps["wheel-from-url"].unaudited is not None and "URL" in deps["wheel-from-url"].unaudited
    assert manifest.kind == "environment" and manifest.problems == ()


@pytest.mark.parametrize(("name", "content"), [
    ("pyproject.toml", "[project\nname="), ("poetry.lock", "[[package]]\nname = "), ("uv.lock", "x = [1,"),
    ("Pipfile", "[packages\n"),
])
def test_invalid_toml_is_an_error_naming_the_file(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ManifestError, match=f"{name}: not valid TOML"):
        read(path)


def test_lock_with_too_many_packages_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "uv.lock"
    path.write_text("".join(f'[[package]]\nname = "p{i}"\nversion = "1"\n' for i in range(30)))
    source = recognise(str(path), path)
    assert source is not None
    with pytest.raises(ManifestError, match="more than 10"):
        source.parse(path, str(path), ManifestLimits(max_dependencies=10))
