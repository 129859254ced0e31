"""Notebooks: keys in sources, outputs, tracebacks, HTML, reprs, metadata and behind JSON escapes, with locations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from secret_samples import POSITIVES, code_cell, notebook, pem, write_notebook

from bastion.config import Settings
from bastion.findings import ScanResult, TargetStatus
from bastion.scan import scan
from bastion.supplychain.secrets import SecretsCheck, notebook_segments

OPENAI = POSITIVES["openai-project-key"][0]
ANTHROPIC = POSITIVES["anthropic-api-key"][0]
HF = POSITIVES["huggingface-token"][0]
GROQ = POSITIVES["groq-api-key"][0]
XAI = POSITIVES["xai-api-key"][0]
COHERE = POSITIVES["cohere-api-key"][0]


def run(folder: Path, settings: Settings | None = None) -> ScanResult:
    return scan([str(folder)], settings or Settings(hash_files=False), checks=[SecretsCheck()])


def where(result: ScanResult) -> list[tuple[str, str | None]]:
    return [(f.title, f.location.member) for f in result.findings if f.rule_id.startswith("BST-SEC")]


def test_keys_everywhere_in_a_notebook_are_found_with_their_cells(tmp_path: Path) -> None:
    doc = notebook([
        {"cell_type": "markdown", "metadata": {}, "source": ["# Setup\n", f"Staging key: `{GROQ}`\n"]},
        code_cell(["import openai\n", f'client = openai.OpenAI(api_key="{OPENAI}")\n']),
        code_cell("print(os.environ)", [{"output_type": "stream", "name": "stdout",
                                          "text": ["loading\n", f"ANTHROPIC_API_KEY={ANTHROPIC}\n"]}]),
        code_cell("login()", [{"output_type": "error", "ename": "HfHubHTTPError", "evalue": "401",
                               "traceback": ["\x1b[0;31m---------\x1b[0m", f"----> 1 login(token='{HF}')"]}]),
        code_cell("show()", [{"output_type": "execute_result", "execution_count": 3, "metadata": {},
                              "data": {"text/plain": ["<HTML>"],
                                       "text/html": [f"<table><tr><td>{XAI}</td></tr></table>"]}}]),
        code_cell("env", [{"output_type": "display_data", "metadata": {},
                           "data": {"application/json": {"cohere": {"api_key": COHERE}}}}]),
    ])
    write_notebook(tmp_path / "demo.ipynb", doc)
    result = run(tmp_path)
    assert result.targets[0].kind == "notebook" and result.targets[0].status is TargetStatus.SCANNED
    assert sorted(where(result)) == sorted([
        ("Groq API key", "cell 1 (markdown), line 2"),
        ("OpenAI project API key", "cell 2 (code), line 2"),
        ("Anthropic API key", "cell 3 (output 1), line 2"),
        ("Hugging Face access token", "cell 4 (output 1, traceback), line 2"),
        ("xAI API key", "cell 5 (output 1, text/html), line 1"),
        ("Cohere API key", "cell 6 (output 1, application/json), line 2"),
    ])
    output_finding = next(f for f in result.findings if f.title == "Anthropic API key")
    assert "outputs are saved in the file" in output_finding.detail


def test_keys_behind_json_escapes_and_split_over_source_lines(tmp_path: Path) -> None:
    escaped = OPENAI.replace("-", "\\u002d").replace("_", "\\u005f")
    doc = notebook([code_cell([f'key = "{OPENAI}"\n']),
                    code_cell(["token = '" + HF[:10], HF[10:] + "'\n"])])
    write_notebook(tmp_path / "escaped.ipynb", doc, {OPENAI: escaped})
    assert OPENAI not in (tmp_path / "escaped.ipynb").read_text()
    result = run(tmp_path)
    assert sorted(where(result)) == [("Hugging Face access token", "cell 2 (code), line 1"),
                                     ("OpenAI project API key", "cell 1 (code), line 1")]


def test_pem_with_escaped_newlines_in_output_is_found(tmp_path: Path) -> None:
    doc = notebook([code_cell("sa", [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                                      "data": {"text/plain": [json.dumps({"type": "service_account",
                                                                          "private_key": pem(7, "PRIVATE KEY")})]}}])])
    write_notebook(tmp_path / "sa.ipynb", doc)
    assert where(run(tmp_path)) == [("Google Cloud service account private key",
                                     "cell 1 (output 1, text/plain), line 1")]


def test_metadata_attachments_and_values_hidden_by_duplicate_keys(tmp_path: Path) -> None:
    doc = notebook([code_cell("x = 1")], metadata={"kernelspec": {"name": "python3"}, "env": {"HF_TOKEN": HF}})
    path = write_notebook(tmp_path / "meta.ipynb", doc)
    text = path.read_text()
    # A repeated key: json keeps the last value, but the first is still in the file and must be found.
    path.write_text(text.replace('"nbformat": 4', f'"nbformat": "{GROQ}", "nbformat": 4', 1))
    result = run(tmp_path)
    assert sorted(where(result)) == [("Groq API key", "notebook (value of a duplicated key), line 1"),
                                     ("Hugging Face access token", "metadata, line 4")]


def test_binary_image_outputs_are_skipped_but_fake_images_are_not(tmp_path: Path) -> None:
    import base64

    image = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40).decode()
    doc = notebook([code_cell("plot()", [{"output_type": "display_data", "metadata": {},
                                          "data": {"image/png": image, "text/plain": ["<Figure>"]}}]),
                    code_cell("fake()", [{"output_type": "display_data", "metadata": {},
                                          "data": {"image/png": f"not base64: {GROQ}"}}])])
    write_notebook(tmp_path / "plots.ipynb", doc)
    segments, problems = notebook_segments((tmp_path / "plots.ipynb").read_bytes())
    assert not problems and not any(s.text == image for s in segments)
    assert where(run(tmp_path)) == [("Groq API key", "cell 2 (output 1, image/png), line 1")]


def test_nbformat_3_worksheets(tmp_path: Path) -> None:
    doc = {"metadata": {}, "nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": [
        {"cell_type": "code", "input": [f"key = '{GROQ}'\n"], "language": "python",
         "outputs": [{"output_type": "pyout", "text": [f"'{XAI}'"]}]}]}]}
    (tmp_path / "old.ipynb").write_text(json.dumps(doc))
    assert sorted(where(run(tmp_path))) == [("Groq API key", "cell 1 (code), line 1"),
                                            ("xAI API key", "cell 1 (output 1), line 1")]


def test_notebook_is_recognised_by_content_not_name(tmp_path: Path) -> None:
    write_notebook(tmp_path / "export.json", notebook([code_cell(f"k = '{GROQ}'")]))
    result = run(tmp_path)
    assert result.targets[0].kind == "notebook"
    assert where(result) == [("Groq API key", "cell 1 (code), line 1")]


def test_placeholders_in_notebooks_are_not_reported(tmp_path: Path) -> None:
    doc = notebook([code_cell(['OPENAI_API_KEY = "sk-proj-...your key..."\n', 'api_key = "<your-api-key>"\n',
                               'os.environ["HF_TOKEN"] = "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"\n'])])
    write_notebook(tmp_path / "clean.ipynb", doc)
    assert where(run(tmp_path)) == []


def test_same_key_in_source_and_output_is_reported_at_both_places_with_one_fingerprint(tmp_path: Path) -> None:
    doc = notebook([code_cell([f'key = "{GROQ}"\n', "print(key)\n"],
                              [{"output_type": "stream", "name": "stdout", "text": [GROQ + "\n"]}])])
    write_notebook(tmp_path / "echo.ipynb", doc)
    findings = [f for f in run(tmp_path).findings if f.rule_id.startswith("BST-SEC")]
    assert [f.location.member for f in findings] == ["cell 1 (code), line 1", "cell 1 (output 1), line 1"]
    assert len({f.evidence for f in findings}) == 1


@pytest.mark.parametrize("content", [
    b'{"cells": [', b'{"cells": [], "nbformat": "four"}', b'{"cells": 5, "nbformat": 4}',
    b"[" * 100_000 + b"]" * 100_000, b'{"cells": [], "nbformat": 4, "x": "\xff\xfe"}',
])
def test_broken_notebooks_are_searched_as_text_and_marked_incomplete(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "broken.ipynb").write_bytes(content + b"\n" + f"token = '{GROQ}'".encode())
    result = run(tmp_path)
    (target,) = result.targets
    assert target.status is TargetStatus.INCOMPLETE and "notebook cannot be parsed" in (target.reason or "")
    assert [f.title for f in result.findings] == ["Groq API key"]
    assert GROQ not in (target.reason or "")


def test_deep_metadata_is_bounded_and_reported(tmp_path: Path) -> None:
    deep: object = HF
    for _ in range(200):
        deep = {"k": deep}
    doc = notebook([code_cell(f"x = '{GROQ}'")], metadata={"deep": deep})
    write_notebook(tmp_path / "deep.ipynb", doc)
    result = run(tmp_path)
    assert result.targets[0].status is TargetStatus.INCOMPLETE
    assert "nested deeper than 64 levels" in (result.targets[0].reason or "")
    assert [f.title for f in result.findings] == ["Groq API key"]
