"""Shadow AI: SDK imports, API hosts and client classes, mapped to services and judged by [ai] approved."""

from __future__ import annotations

from pathlib import Path

import pytest
from secret_samples import code_cell, notebook, write_notebook

from bastion.config import Settings
from bastion.findings import ScanResult, Severity
from bastion.scan import scan
from bastion.supplychain.secrets import SERVICES, SecretsCheck, find_ai_uses
from bastion.supplychain.secrets.shadow_ai import _HOST_NEEDLES, javascript_service, python_service


def services(text: str, language: str | None = "python") -> list[tuple[str, str]]:
    return [(u.service, u.indicator) for u in find_ai_uses(text.encode(), language=language)]


@pytest.mark.parametrize(("line", "expected"), [
    ("import openai", ("openai", "import openai")),
    ("from anthropic import Anthropic", ("anthropic", "import anthropic")),
    ("import google.generativeai as genai", ("google-gemini", "import google.generativeai")),
    ("from google import genai", ("google-gemini", "from google import genai")),
    ("from google.cloud import aiplatform", ("google-vertex-ai", "from google.cloud import aiplatform")),
    ("import vertexai", ("google-vertex-ai", "import vertexai")),
    ("import cohere", ("cohere", "import cohere")),
    ("from mistralai import Mistral", ("mistral", "import mistralai")),
    ("from groq import Groq", ("groq", "import groq")),
    ("from langchain_openai import ChatOpenAI", ("openai", "import langchain_openai")),
    ("from langchain_core.prompts import ChatPromptTemplate", ("langchain", "import langchain_core.prompts")),
    ("from llama_index.llms.anthropic import Anthropic", ("anthropic", "import llama_index.llms.anthropic")),
    ("import llama_index.core", ("llama-index", "import llama_index.core")),
    ("import replicate", ("replicate", "import replicate")),
    ("from together import Together", ("together", "import together")),
    ("import litellm", ("litellm", "import litellm")),
    ("from xai_sdk import Client", ("xai", "import xai_sdk")),
    ("    import ollama  # local", ("ollama", "import ollama")),
    ("from huggingface_hub import InferenceClient", ("huggingface", "client InferenceClient")),
])
def test_python_imports(line: str, expected: tuple[str, str]) -> None:
    assert services(f"x = 1\n{line}\n") == [expected]


@pytest.mark.parametrize("line", [
    "import numpy as np", "from huggingface_hub import hf_hub_download", "# we do not import openai here",
    "from . import openai_helpers", "text = 'import openai'", "important = True",
])
def test_non_ai_imports(line: str) -> None:
    assert services(line) == []


@pytest.mark.parametrize(("line", "expected"), [
    ('import OpenAI from "openai";', "openai"),
    ("const Anthropic = require('@anthropic-ai/sdk');", "anthropic"),
    ("import { GoogleGenerativeAI } from '@google/generative-ai';", "google-gemini"),
    ('import { ChatOpenAI } from "@langchain/openai";', "openai"),
    ('const { generateText } = await import("ai");', "vercel-ai-sdk"),
    ('import { HfInference } from "@huggingface/inference";', "huggingface"),
    ("} from 'groq-sdk';", "groq"),
])
def test_javascript_imports(line: str, expected: str) -> None:
    assert [s for s, _ in services(line, "javascript")] == [expected]


@pytest.mark.parametrize(("text", "expected"), [
    ("curl https://api.openai.com/v1/chat/completions", "openai"),
    ("endpoint: https://my-resource.openai.azure.com/", "azure-openai"),
    ("URL=https://generativelanguage.googleapis.com/v1beta/models", "google-gemini"),
    ("https://us-central1-aiplatform.googleapis.com/v1/projects", "google-vertex-ai"),
    ("base_url='https://api.deepseek.com'", "deepseek"),
    ("base_url: https://openrouter.ai/api/v1", "openrouter"),
    ("POST https://api.groq.com/openai/v1/chat/completions", "groq"),
    ("https://api.x.ai/v1", "xai"),
    ("https://api.mistral.ai/v1/chat", "mistral"),
    ("https://api.cohere.com/v2/chat", "cohere"),
    ("https://api-inference.huggingface.co/models/gpt2", "huggingface"),
    ("client = boto3.client('bedrock-runtime')", "aws-bedrock"),
    ("https://bedrock-runtime.us-east-1.amazonaws.com/model", "aws-bedrock"),
    ("https://api.anthropic.com/v1/messages", "anthropic"),
])
def test_hosts(text: str, expected: str) -> None:
    assert [s for s, _ in services(text, None)] == [expected]


@pytest.mark.parametrize("text", [
    "https://api.openai.com.evil.example/", "https://myapi.openai.company.com", "https://platform.openai.com/docs",
    "self.api.get(url)", "https://storage.googleapis.com/bucket",
])
def test_non_ai_hosts(text: str) -> None:
    assert services(text, None) == []


def test_azure_clients_make_openai_imports_azure() -> None:
    text = "from openai import AzureOpenAI\nclient = AzureOpenAI(azure_endpoint=ENDPOINT)\n"
    assert {s for s, _ in services(text)} == {"azure-openai"}


def test_every_host_has_a_needle_and_every_module_maps_back() -> None:
    for entry in SERVICES:
        for host in entry.hosts:
            assert any(n.decode() in host or host.strip(".") in n.decode() for n in _HOST_NEEDLES), host
        for module in entry.python:
            assert python_service(module) == entry.service_id
        for package in entry.javascript:
            assert javascript_service(package) == entry.service_id


def test_lines_and_offsets() -> None:
    text = b"import os\n\nimport anthropic\nURL = 'https://api.openai.com/v1'\n"
    uses = find_ai_uses(text, language="python")
    assert [(u.service, u.kind, u.line) for u in uses] == [("anthropic", "import", 3), ("openai", "host", 4)]
    assert text[uses[0].start:].startswith(b"import anthropic")


# ---- the check and the allow-list ----


def project(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text("import openai\nfrom anthropic import Anthropic\n")
    (tmp_path / "client.ts").write_text('import Groq from "groq-sdk";\n')
    (tmp_path / "README.md").write_text("We call https://api.mistral.ai from the docs.\n")
    (tmp_path / "deploy.yaml").write_text("url: https://api.cohere.com/v2\n")
    write_notebook(tmp_path / "nb.ipynb", notebook([
        {"cell_type": "markdown", "metadata": {}, "source": "import litellm is described here; api.x.ai too"},
        code_cell("import replicate\n", [{"output_type": "error", "ename": "APIError", "evalue": "x",
                                          "traceback": ["ConnectionError: api.deepseek.com unreachable"]}])]))
    return tmp_path


def run(folder: Path, **sections: object) -> ScanResult:
    settings = Settings(hash_files=False, source="bastion.toml", sections=sections)  # type: ignore[arg-type]
    return scan([str(folder)], settings, checks=[SecretsCheck()])


def ai(result: ScanResult) -> list[tuple[str, Severity, str, str | None]]:
    return sorted((f.rule_id, f.severity, f.title.split(": ")[1], f.location.member) for f in result.findings
                  if f.rule_id.startswith("BST-AI"))


def test_without_an_ai_table_uses_are_an_info_inventory(tmp_path: Path) -> None:
    result = run(project(tmp_path))
    assert ai(result) == [
        ("BST-AI-002", Severity.INFO, "Anthropic", None), ("BST-AI-002", Severity.INFO, "Cohere", None),
        ("BST-AI-002", Severity.INFO, "DeepSeek", "cell 2 (output 1, traceback), line 1"),
        ("BST-AI-002", Severity.INFO, "Groq", None), ("BST-AI-002", Severity.INFO, "OpenAI", None),
        ("BST-AI-002", Severity.INFO, "Replicate", "cell 2 (code), line 1"),
    ]
    facts = {Path(t.path).name: t.facts.get("ai_services") for t in result.targets}
    assert facts["app.py"] == ["anthropic", "openai"] and facts["README.md"] is None


def test_unapproved_services_are_medium_findings(tmp_path: Path) -> None:
    result = run(project(tmp_path), ai={"approved": ["openai", "anthropic", "cohere", "replicate"]})
    assert [(r, s, n) for r, s, n, _ in ai(result)] == [
        ("BST-AI-001", Severity.MEDIUM, "DeepSeek"), ("BST-AI-001", Severity.MEDIUM, "Groq")]
    groq = next(f for f in result.findings if "Groq" in f.title)
    assert "import groq-sdk (line 1)" in groq.detail and "Approved services: anthropic, cohere, openai" in groq.detail
    assert groq.evidence == "import groq-sdk"


def test_an_empty_allow_list_approves_nothing(tmp_path: Path) -> None:
    assert {r for r, _, _, _ in ai(run(project(tmp_path), ai={"approved": []}))} == {"BST-AI-001"}


def test_shadow_ai_can_be_switched_off(tmp_path: Path) -> None:
    project(tmp_path)
    result = scan([str(tmp_path)], Settings(hash_files=False), checks=[SecretsCheck(shadow_ai=False)])
    assert ai(result) == []


@pytest.mark.parametrize(("line", "expected"), [
    ("%pip install -q openai==1.30.1", ["openai"]),
    ('!pip install "anthropic>=0.30" langchain-groq', ["anthropic", "groq"]),
    ("RUN pip install --no-cache-dir llama-index-llms-mistralai google-generativeai && rm -rf /tmp", [
        "mistral", "google-gemini"]),
    ("uv pip install xai-sdk  # and openai later", ["xai"]),
    ("pip install numpy pandas -r requirements.txt", []),
])
def test_pip_installs(line: str, expected: list[str]) -> None:
    assert [s for s, _ in services(line, None)] == expected
