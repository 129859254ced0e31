#!/usr/bin/env python3
"""Side-by-side benchmark of Bastion's secrets check against detect-secrets on a generated AI-project corpus.

The corpus (``benchmarks/.data/secrets/corpus-<seed>/``, deterministic for a seed) holds 2,400 files of realistic
kinds and sizes: Python modules, Jupyter notebooks (code, logs, DataFrame HTML, base64 PNG plots, tracebacks),
``.env`` files, JSON and YAML configs, Markdown docs and text logs. Fake keys of every provider Bastion knows are
planted in realistic places (assignments, client constructors, ``.env`` lines, YAML/JSON values, docs, logs;
in notebooks also in printed outputs, tracebacks, HTML tables, ``text/plain`` reprs, metadata and behind JSON
escapes), together with placeholders that no tool should report. The truth set is written beside the corpus.

Three runs are timed (wall and CPU of the child process, from ``os.wait4``; best of ``--repeat``):

- ``detect-secrets scan --all-files`` (installed on first use into ``benchmarks/.peers/secrets-venv``);
- Bastion as a library: ``scan([corpus], checks=[SecretsCheck()])`` in a fresh interpreter;
- ``bastion scan corpus --format json`` end to end (all registered checks, SHA-256 of every file; the secrets
  check is registered for the run through a throw-away ``.dist-info`` on PYTHONPATH if the installed metadata
  does not register it yet), and the same with ``--no-hash`` (no SHA-256 per file: the work detect-secrets does).

A planted key counts as found when a reported secret carries its hash (detect-secrets' SHA-1, Bastion's
fingerprint) or is reported on its file and line. Every other report is a false positive.

Usage: ``.venv/bin/python benchmarks/secrets_bench.py [--files 2400] [--seed 7] [--repeat 3] [--skip-peer]``
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import platform
import random
import re
import shutil
import string
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / ".data" / "secrets"
HOME_DIR = DATA_DIR / "home"  # BASTION_HOME of the Bastion runs: holds the fingerprint key
PLUGIN_DIR = DATA_DIR / "plugin"
PEER_VENV = BENCH_DIR / ".peers" / "secrets-venv"
PEER_CLI = PEER_VENV / "bin" / "detect-secrets"
DEFAULT_BASTION = ROOT / ".venv" / "bin" / "bastion"
DEFAULT_PYTHON = ROOT / ".venv" / "bin" / "python"
SPEED_TARGET = 10.0
MIX = {".py": 0.33, ".ipynb": 0.125, ".env": 0.05, ".json": 0.145, ".yaml": 0.125, ".md": 0.105, ".txt": 0.12}
"""Share of each kind of file in the corpus."""
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"

LIBRARY_RUN = """
import json, sys
from bastion.config import Settings
from bastion.scan import scan
from bastion.supplychain.secrets import SecretsCheck
result = scan([sys.argv[1]], Settings(hash_files=False), checks=[SecretsCheck()])
with open(sys.argv[2], "w") as out:
    json.dump({"findings": [f.to_dict() for f in result.findings]}, out)
"""


# --------------------------------------------------------------------------- fake keys


def _s(rng: random.Random, size: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(size))


def _uuid(rng: random.Random) -> str:
    return f"{_s(rng, 8, HEX)}-{_s(rng, 4, HEX)}-4{_s(rng, 3, HEX)}-a{_s(rng, 3, HEX)}-{_s(rng, 12, HEX)}"


def _pem(rng: random.Random, label: str = "RSA PRIVATE KEY") -> str:
    body = "MII" + _s(rng, 1213, B64)
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


KEYS: dict[str, tuple[str, Callable[[random.Random], str]]] = {
    "openai-project": ("OpenAI", lambda r: "sk-proj-" + _s(r, 74, ALNUM + "-_") + "T3BlbkFJ" + _s(r, 74, ALNUM + "-_")),
    "openai-svcacct": ("OpenAI", lambda r: "sk-svcacct-" + _s(r, 74, ALNUM + "-_") + "T3BlbkFJ" + _s(r, 74)),
    "openai-admin": ("OpenAI", lambda r: "sk-admin-" + _s(r, 74, ALNUM + "-_") + "T3BlbkFJ" + _s(r, 74)),
    "openai-legacy": ("OpenAI", lambda r: "sk-" + _s(r, 20) + "T3BlbkFJ" + _s(r, 20)),
    "anthropic": ("Anthropic", lambda r: "sk-ant-api03-" + _s(r, 93, ALNUM + "-_") + "AA"),
    "anthropic-admin": ("Anthropic", lambda r: "sk-ant-admin01-" + _s(r, 93, ALNUM + "-_") + "AA"),
    "azure-openai": ("Azure OpenAI", lambda r: _s(r, 32, HEX)),
    "gemini": ("Google Gemini", lambda r: "AIza" + _s(r, 35, ALNUM + "-_")),
    "huggingface": ("Hugging Face", lambda r: "hf_" + _s(r, 34, string.ascii_letters)),
    "cohere": ("Cohere", lambda r: _s(r, 40)),
    "mistral": ("Mistral AI", lambda r: _s(r, 32)),
    "groq": ("Groq", lambda r: "gsk_" + _s(r, 52)),
    "xai": ("xAI", lambda r: "xai-" + _s(r, 80)),
    "deepseek": ("DeepSeek", lambda r: "sk-" + _s(r, 32, HEX)),
    "replicate": ("Replicate", lambda r: "r8_" + _s(r, 37)),
    "openrouter": ("OpenRouter", lambda r: "sk-or-v1-" + _s(r, 64, HEX)),
    "langsmith": ("LangSmith", lambda r: "lsv2_pt_" + _s(r, 32, HEX) + "_" + _s(r, 10, HEX)),
    "langfuse": ("Langfuse", lambda r: "sk-lf-" + _uuid(r)),
    "pinecone": ("Pinecone", lambda r: "pcsk_" + _s(r, 6) + "_" + _s(r, 63)),
    "pinecone-legacy": ("Pinecone", _uuid),
    "wandb": ("Weights & Biases", lambda r: _s(r, 40, HEX)),
    "aws-key-id": ("AWS", lambda r: "AKIA" + _s(r, 16, string.ascii_uppercase + "234567")),
    "aws-secret": ("AWS", lambda r: _s(r, 40, B64)),
    "github": ("GitHub", lambda r: "ghp_" + _s(r, 36)),
    "github-pat": ("GitHub", lambda r: "github_pat_" + _s(r, 22) + "_" + _s(r, 59)),
    "private-key": ("Private key", _pem),
    "gcp-service-account": ("Google Cloud", lambda r: _pem(r, "PRIVATE KEY")),
    "generic": ("generic", lambda r: _s(r, 40, ALNUM + "+/")),
}
"""Planted kind -> (provider, generator)."""

ENV_NAMES = {
    "openai-project": "OPENAI_API_KEY", "openai-svcacct": "OPENAI_API_KEY", "openai-admin": "OPENAI_ADMIN_KEY",
    "openai-legacy": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "anthropic-admin": "ANTHROPIC_ADMIN_KEY",
    "azure-openai": "AZURE_OPENAI_API_KEY", "gemini": "GEMINI_API_KEY", "huggingface": "HF_TOKEN",
    "cohere": "COHERE_API_KEY", "mistral": "MISTRAL_API_KEY", "groq": "GROQ_API_KEY", "xai": "XAI_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY", "replicate": "REPLICATE_API_TOKEN", "openrouter": "OPENROUTER_API_KEY",
    "langsmith": "LANGSMITH_API_KEY", "langfuse": "LANGFUSE_SECRET_KEY", "pinecone": "PINECONE_API_KEY",
    "pinecone-legacy": "PINECONE_API_KEY", "wandb": "WANDB_API_KEY", "aws-key-id": "AWS_ACCESS_KEY_ID",
    "aws-secret": "AWS_SECRET_ACCESS_KEY", "github": "GITHUB_TOKEN", "github-pat": "GH_TOKEN",
    "generic": "INTERNAL_SERVICE_SECRET",
}
CALLS = {
    "openai-project": 'client = OpenAI(api_key="{k}")', "openai-svcacct": 'client = openai.OpenAI(api_key="{k}")',
    "openai-admin": 'admin = OpenAI(api_key="{k}", organization="org-analytics")',
    "openai-legacy": 'openai.api_key = "{k}"', "anthropic": 'client = anthropic.Anthropic(api_key="{k}")',
    "anthropic-admin": 'admin = Anthropic(api_key="{k}")',
    "azure-openai": 'client = AzureOpenAI(api_key="{k}", azure_endpoint="https://contoso.openai.azure.com")',
    "gemini": 'genai.configure(api_key="{k}")', "huggingface": 'login(token="{k}")',
    "cohere": 'co = cohere.ClientV2("{k}")', "mistral": 'client = Mistral(api_key="{k}")',
    "groq": 'client = Groq(api_key="{k}")', "xai": 'client = Client(api_key="{k}")  # xAI',
    "deepseek": 'client = OpenAI(api_key="{k}", base_url="https://api.deepseek.com")',
    "replicate": 'rep = replicate.Client(api_token="{k}")',
    "openrouter": 'client = OpenAI(base_url="https://openrouter.ai/api/v1", api_key="{k}")',
    "langsmith": 'ls = LangSmithClient(api_key="{k}")', "langfuse": 'lf = Langfuse(secret_key="{k}")',
    "pinecone": 'pc = Pinecone(api_key="{k}")', "pinecone-legacy": 'pinecone.init(api_key="{k}", environment="gcp")',
    "wandb": 'wandb.login(key="{k}")', "aws-key-id": 's3 = boto3.client("s3", aws_access_key_id="{k}")',
    "aws-secret": 's3 = boto3.client("s3", aws_secret_access_key="{k}")', "github": 'gh = Github("{k}")',
    "github-pat": 'gh = Github(auth=Auth.Token("{k}"))', "generic": 'SERVICE_CLIENT_SECRET = "{k}"',
}


@dataclass
class Planted:
    """One key in the corpus."""

    kind: str
    provider: str
    secret: str
    path: str
    line: int = 0
    notebook: str = ""
    """For notebooks: where (source, stream, traceback, html, plain, escaped, metadata); empty elsewhere."""


@dataclass
class Corpus:
    """The generated files and what was planted in them."""

    root: Path
    planted: list[Planted] = field(default_factory=list)
    decoys: int = 0
    sizes: dict[str, list[int]] = field(default_factory=dict)


# --------------------------------------------------------------------------- ordinary content


WORDS = ("model", "train", "batch", "loss", "eval", "token", "layer", "embed", "cache", "score", "label", "vocab",
         "data", "sample", "config", "metric", "prompt", "index", "vector", "chunk", "stream", "agent", "tool")
MODELS = ("meta-llama/Llama-3.1-8B-Instruct", "mistralai/Mistral-7B-v0.3", "bert-base-uncased",
          "sentence-transformers/all-MiniLM-L6-v2", "gpt-4o-mini", "claude-3-5-sonnet-latest", "text-embedding-3-small")


def _ident(rng: random.Random) -> str:
    return "_".join(rng.sample(WORDS, rng.randint(1, 3)))


def _python_lines(rng: random.Random) -> list[str]:
    """One function or constant block of ordinary ML code, with the usual secret-scanner traps."""
    name = _ident(rng)
    pool = [
        f"    {name} = np.random.default_rng({rng.randint(0, 9999)}).normal(size=({rng.randint(2, 512)}, 64))",
        f'    logger.info("epoch %d loss %.4f", epoch, {rng.random():.4f})',
        '    state = torch.load(path, map_location="cpu", weights_only=True)',
        f'    tokenizer = AutoTokenizer.from_pretrained("{rng.choice(MODELS)}")',
        f'    revision = "{_s(rng, 40, HEX)}"  # pinned commit',
        f'    expected_sha256 = "{_s(rng, 64, HEX)}"',
        f'    run_id = "{_uuid(rng)}"',
        '    api_key = os.environ["OPENAI_API_KEY"]',
        '    token = os.getenv("HF_TOKEN")',
        "    batch = sorted(items, key=lambda item: item[1])[:max_tokens]",
        f"    response = client.chat.completions.create(model=\"{rng.choice(MODELS)}\", "
        f"max_tokens={rng.randint(64, 4096)})",
        '    password = getpass.getpass("Database password: ")',
        f'    cache_key = f"{{prefix}}:{{{name}}}"',
        f"    for step in range({rng.randint(1, 100)}):",
        f"        {name} = {name} * {rng.random():.3f} + step",
        "    return " + name,
        f'    url = "https://huggingface.co/{rng.choice(MODELS)}/resolve/main/config.json"',
        '    headers = {"Authorization": f"Bearer {token}"}',
    ]
    body = rng.sample(pool, rng.randint(3, 9))
    return [f"def {name}_{rng.randint(0, 999)}(path, items, max_tokens={rng.randint(16, 512)}):",
            f'    """{name.replace("_", " ").capitalize()} for the {rng.choice(WORDS)} pipeline."""', *body, ""]


def python_file(rng: random.Random) -> list[str]:
    lines = ["import os", "import getpass", "import logging", "", "import numpy as np", "import torch",
             "from transformers import AutoTokenizer", "", "logger = logging.getLogger(__name__)", ""]
    for _ in range(int(rng.lognormvariate(1.8, 0.8)) + 1):
        lines.extend(_python_lines(rng))
    return lines


def markdown_file(rng: random.Random) -> list[str]:
    lines = [f"# {_ident(rng).replace('_', ' ').title()}", ""]
    pool = ["Set `OPENAI_API_KEY=sk-...` in your shell before running the notebooks.",
            "Copy `.env.example` to `.env` and fill in `your-api-key`.", "```bash", "export HF_TOKEN=hf_xxx",
            "pip install -r requirements.txt", "```", f"The model is `{rng.choice(MODELS)}`.",
            "Keys are read from the environment, never from this repository.",
            f"Checksum: `{_s(rng, 64, HEX)}`.", "| metric | value |", "|---|---|", f"| accuracy | {rng.random():.3f} |",
            "Call the API with `curl -H \"Authorization: Bearer $TOKEN\" https://example.org/v1/models`."]
    for _ in range(int(rng.lognormvariate(3.0, 0.7)) + 5):
        lines.append(rng.choice(pool))
    return lines


def text_file(rng: random.Random) -> list[str]:
    lines = []
    for _ in range(int(rng.lognormvariate(3.4, 0.8)) + 5):
        lines.append(rng.choice([
            f"2024-05-{rng.randint(1, 28):02d} 12:{rng.randint(0, 59):02d}:01 INFO request_id={_uuid(rng)} status=200 "
            f"latency_ms={rng.randint(5, 900)}",
            f"trace_id={_s(rng, 32, HEX)} span_id={_s(rng, 16, HEX)} op={_ident(rng)}",
            f"Downloading model.safetensors sha256:{_s(rng, 64, HEX)} ({rng.randint(1, 900)} MB)",
            f"step {rng.randint(0, 9999)} loss={rng.random():.5f} lr={rng.random() / 1000:.2e} "
            f"tokens/s={rng.randint(100, 9000)}",
            "WARNING token limit reached; truncating prompt to 4096 tokens",
        ]))
    return lines


def yaml_file(rng: random.Random) -> list[str]:
    return [
        "name: train", "on: [push]", "jobs:", "  train:", "    runs-on: ubuntu-latest", "    env:",
        "      OPENAI_API_KEY: ${{ secrets.OPENAI_API_KEY }}", "      HF_TOKEN: ${{ secrets.HF_TOKEN }}",
        "    steps:", "      - uses: actions/checkout@v4", f"      - run: python train.py --model {rng.choice(MODELS)}",
        "model:", f"  name: {rng.choice(MODELS)}", f"  max_tokens: {rng.randint(64, 4096)}",
        f"  temperature: {rng.random():.2f}", f"  revision: {_s(rng, 40, HEX)}", "secrets:",
        "  api_key:", "    valueFrom:", "      secretKeyRef: {name: llm-keys, key: openai}",
        *(f"  {_ident(rng)}: {rng.randint(0, 999)}" for _ in range(rng.randint(5, 60))),
    ]


def json_doc(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.4:
        return {"packages": {f"node_modules/{_ident(rng)}-{i}": {
            "version": f"{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
            "resolved": f"https://registry.npmjs.org/{_ident(rng)}/-/{_ident(rng)}.tgz",
            "integrity": "sha512-" + base64.b64encode(rng.randbytes(64)).decode()} for i in range(rng.randint(3, 40))}}
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
            "vocab_size": 32000, "bos_token_id": 1, "eos_token_id": 2, "pad_token": "<pad>", "torch_dtype": "bfloat16",
            "_commit_hash": _s(rng, 40, HEX), "api_key": "${OPENAI_API_KEY}", "tokenizer_class": "LlamaTokenizer",
            "labels": {str(i): _ident(rng) for i in range(rng.randint(2, 80))}}


def env_file(rng: random.Random) -> list[str]:
    return ["# copy to .env and fill in", "OPENAI_API_KEY=", "HF_TOKEN=your-hf-token", "DEBUG=true",
            "DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app", f"MODEL_NAME={rng.choice(MODELS)}",
            f"MAX_TOKENS={rng.randint(64, 4096)}"]


def _png(rng: random.Random) -> str:
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + rng.randbytes(int(rng.lognormvariate(9.5, 0.8)))).decode()


def notebook_doc(rng: random.Random) -> dict[str, Any]:
    cells: list[dict[str, Any]] = []
    for index in range(rng.randint(4, 24)):
        kind = rng.random()
        if kind < 0.25:
            cells.append({"cell_type": "markdown", "metadata": {}, "source": [
                f"## {_ident(rng).replace('_', ' ').title()}\n", "Set `OPENAI_API_KEY` before running.\n"]})
            continue
        source = [line + "\n" for line in _python_lines(rng)]
        outputs: list[dict[str, Any]] = []
        if kind < 0.6:
            outputs.append({"output_type": "stream", "name": "stdout", "text": [
                f"epoch {e} loss {rng.random():.4f} acc {rng.random():.3f}\n" for e in range(rng.randint(1, 40))]})
        elif kind < 0.8:
            rows = "".join(f"<tr><td>{i}</td><td>{_ident(rng)}</td><td>{rng.random():.3f}</td></tr>"
                           for i in range(rng.randint(2, 30)))
            outputs.append({"output_type": "execute_result", "execution_count": index, "metadata": {},
                            "data": {"text/plain": [f"   name  score\n0  {_ident(rng)}  {rng.random():.3f}"],
                                     "text/html": [f"<table>{rows}</table>"]}})
        else:
            outputs.append({"output_type": "display_data", "metadata": {},
                            "data": {"image/png": _png(rng), "text/plain": ["<Figure size 640x480 with 1 Axes>"]}})
        cells.append({"cell_type": "code", "execution_count": index, "metadata": {}, "outputs": outputs,
                      "source": source})
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                          "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}


# --------------------------------------------------------------------------- planting


def _line_for(rng: random.Random, kind: str, secret: str, suffix: str) -> str:
    env = ENV_NAMES.get(kind, "API_KEY")
    if suffix == ".env":
        return f"{env}={secret}"
    if suffix == ".yaml":
        return f"{env.lower()}: {secret}" if rng.random() < 0.5 else f'  {env}: "{secret}"'
    if suffix == ".md":
        return f"Staging {KEYS[kind][0]} key for the demo: `{secret}` ({env})"
    if suffix == ".txt":
        return f"2024-05-02 10:00:00 DEBUG loaded {env}={secret}"
    choices = [CALLS[kind].format(k=secret), f'{env} = "{secret}"', f'os.environ["{env}"] = "{secret}"']
    return rng.choice(choices)


def _plant_lines(rng: random.Random, lines: list[str], kinds: list[str], path: str, suffix: str,
                 corpus: Corpus) -> None:
    """Insert each key (one line, or a PEM block) between original lines, never inside another insert."""
    inserts: list[tuple[int, list[str]]] = []
    for kind in kinds:
        provider, make = KEYS[kind]
        secret = make(rng)
        corpus.planted.append(Planted(kind, provider, secret, path))
        at = rng.randint(0, len(lines))
        if kind == "gcp-service-account" and suffix not in (".md", ".txt"):
            key_line = json.dumps({"type": "service_account", "project_id": "demo-ml",
                                   "private_key_id": _s(rng, 40, HEX), "private_key": secret})
            inserts.append((at, [f"SERVICE_ACCOUNT = {key_line!r}" if suffix == ".py" else f"# sa: {key_line}"]))
        elif kind in ("private-key", "gcp-service-account"):
            block = secret.rstrip("\n").split("\n")
            if suffix == ".py":
                block = ['PRIVATE_KEY = """' + block[0], *block[1:-1], block[-1] + '"""']
            inserts.append((at, block))
        else:
            inserts.append((at, [_line_for(rng, kind, secret, suffix)]))
    for at, block in sorted(inserts, key=lambda item: item[0], reverse=True):
        lines[at:at] = block


DECOYS = ('OPENAI_API_KEY = "sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"',
          'api_key = "your-api-key-here"', 'HF_TOKEN = "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"',
          'aws_access_key_id = "AKIAIOSFODNN7EXAMPLE"', 'ANTHROPIC_API_KEY = "<ANTHROPIC_API_KEY>"',
          'token = "${GITHUB_TOKEN}"', "password = 'changeme'")


def _plant_notebook(rng: random.Random, doc: dict[str, Any], kinds: list[str], path: str,
                    corpus: Corpus) -> list[tuple[str, str]]:
    """Plant keys in cells; returns (secret, escaped form) pairs to apply to the serialised JSON."""
    escapes = []
    code_cells = [c for c in doc["cells"] if c["cell_type"] == "code"] or [doc["cells"][0]]
    for kind in kinds:
        provider, make = KEYS[kind]
        secret = make(rng)
        cell = rng.choice(code_cells)
        outputs = cell.setdefault("outputs", [])
        where = rng.choice(("source", "stream", "traceback", "html", "plain", "escaped", "metadata"))
        if kind in ("private-key", "gcp-service-account"):
            where = rng.choice(("source", "plain"))
        env = ENV_NAMES.get(kind, "API_KEY")
        if where in ("source", "escaped"):
            call = CALLS.get(kind, f'{env} = "{{k}}"').format(k=secret)
            cell["source"].insert(rng.randint(0, len(cell["source"])), call + "\n")
        elif where == "stream":
            outputs.append({"output_type": "stream", "name": "stdout", "text": [f"Using {env}={secret}\n"]})
        elif where == "traceback":  # IPython shows the failing line of the cell, key and all
            call = CALLS.get(kind, f'{env} = "{{k}}"').format(k=secret)
            outputs.append({"output_type": "error", "ename": "AuthenticationError", "evalue": "Error code: 401",
                            "traceback": ["\x1b[0;31m-----------------------------------------------\x1b[0m",
                                          "\x1b[0;31mAuthenticationError\x1b[0m Traceback (most recent call last)",
                                          f"\x1b[0;32m----> 3\x1b[0m {call}",
                                          "\x1b[0;31mAuthenticationError\x1b[0m: Error code: 401"]})
        elif where == "html":
            outputs.append({"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {
                "text/html": [f"<table><tr><th>{env}</th><td>{secret}</td></tr></table>"],
                "text/plain": ["<IPython.core.display.HTML object>"]}})
        elif where == "plain":
            outputs.append({"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {
                "text/plain": [f"{{'{env}': '{secret}', 'region': 'us-east-1'}}"]}})
        else:
            names = doc["metadata"].setdefault("env", {})
            names[env if env not in names else f"{env}_{len(names)}"] = secret
        if where == "escaped":
            escapes.append((secret, secret.replace("-", "\\u002d").replace("_", "\\u005f").replace("A", "\\u0041")))
        corpus.planted.append(Planted(kind, provider, secret, path, 0, where))
    return escapes


def _kinds_for(rng: random.Random, suffix: str) -> list[str]:
    rate = {".py": 0.16, ".ipynb": 0.45, ".env": 0.7, ".json": 0.05, ".yaml": 0.08, ".md": 0.06, ".txt": 0.06}[suffix]
    kinds = list(KEYS)
    out = []
    while rng.random() < rate and len(out) < 3:
        out.append(rng.choice(kinds))
    return out


def _write_notebook(rng: random.Random, dest: Path, rel: str, corpus: Corpus) -> None:
    doc = notebook_doc(rng)
    escapes = _plant_notebook(rng, doc, _kinds_for(rng, ".ipynb"), rel, corpus)
    text = json.dumps(doc, indent=1) + "\n"
    for secret, escaped in escapes:
        text = text.replace(secret, escaped, 1)
    if rng.random() < 0.3:
        decoy = rng.choice(DECOYS).replace('"', '\\"')
        text = text.replace('"source": [\n', f'"source": [\n    "{decoy}\\n",\n', 1)
        corpus.decoys += 1
    dest.write_text(text)
    for item in corpus.planted:
        if item.path == rel and item.notebook:
            needle = next((e for s, e in escapes if s == item.secret), item.secret)
            needle = needle.split("\n")[0] if "\n" in needle else needle
            offset = text.find(json.dumps(needle)[1:-1] if item.notebook != "escaped" else needle)
            item.line = text.count("\n", 0, offset) + 1 if offset >= 0 else 0


def build_corpus(files: int, seed: int) -> Corpus:
    """Generate the corpus once per (files, seed); the truth set is saved beside it."""
    root = DATA_DIR / f"corpus-{files}-{seed}"
    truth_path = root.with_name(root.name + ".truth.json")
    if root.is_dir() and truth_path.is_file():
        truth = json.loads(truth_path.read_text())
        return Corpus(root, [Planted(**p) for p in truth["planted"]], truth["decoys"], truth["sizes"])
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    rng = random.Random(seed)
    corpus = Corpus(partial)
    suffixes = [s for s, share in MIX.items() for _ in range(round(share * files))][:files]
    suffixes += [".py"] * (files - len(suffixes))
    for index, suffix in enumerate(suffixes):
        folder = f"{['src', 'notebooks', 'configs', 'docs', 'logs', 'experiments'][index % 6]}/{index % 40:02d}"
        name = f".env.{index}" if suffix == ".env" else f"{_ident(rng)}_{index}{suffix}"
        rel = f"{folder}/{name}"
        dest = partial / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".ipynb":
            _write_notebook(rng, dest, rel, corpus)
        else:
            _write_lines(rng, dest, rel, suffix, corpus)
        corpus.sizes.setdefault(suffix, []).append(dest.stat().st_size)
    partial.rename(root)
    corpus.root = root
    truth_path.write_text(json.dumps({"planted": [asdict(p) for p in corpus.planted], "decoys": corpus.decoys,
                                      "sizes": corpus.sizes}))
    return corpus


def _write_lines(rng: random.Random, dest: Path, rel: str, suffix: str, corpus: Corpus) -> None:
    makers: dict[str, Callable[[random.Random], list[str]]] = {
        ".py": python_file, ".env": env_file, ".yaml": yaml_file, ".md": markdown_file, ".txt": text_file}
    if suffix == ".json":
        lines = json.dumps(json_doc(rng), indent=2).split("\n")
        kinds = _kinds_for(rng, suffix)
        for kind in kinds:  # JSON: a credentials object as its own line, so the document stays valid
            provider, make = KEYS[kind]
            secret = make(rng)
            lines.insert(1, f'  "{ENV_NAMES.get(kind, "service_key").lower()}": {json.dumps(secret)},')
            corpus.planted.append(Planted(kind, provider, secret, rel, 2))
        for item in corpus.planted:  # later inserts push earlier ones down
            if item.path == rel:
                item.line = lines.index(next(x for x in lines if json.dumps(item.secret) in x)) + 1
    else:
        lines = makers[suffix](rng)
        if rng.random() < 0.1:
            lines.insert(rng.randint(0, len(lines)), rng.choice(DECOYS))
            corpus.decoys += 1
        _plant_lines(rng, lines, _kinds_for(rng, suffix), rel, suffix, corpus)
        for item in corpus.planted:
            if item.path == rel:
                first = item.secret.split("\n")[0]
                item.line = next(i for i, line in enumerate(lines, 1) if first in line or
                                 json.dumps(first)[1:-1] in line)
    dest.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- running the tools


@dataclass
class Run:
    """One tool's best run and what it reported."""

    name: str
    status: str = "ok"
    wall_s: float | None = None
    cpu_s: float | None = None
    note: str = ""
    reports: list[dict[str, Any]] = field(default_factory=list)
    """Normalised reports: path (relative to the corpus), line (0 if unknown), hashes (set of str)."""


def run_once(argv: list[str], cwd: Path, env: dict[str, str], log: Path, timeout_s: float
             ) -> tuple[int, float, float]:
    """(exit code, wall s, CPU s of the child and its waited-for children)."""
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        watchdog = threading.Timer(timeout_s, proc.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime


def timed(name: str, argv: list[str], cwd: Path, env: dict[str, str], repeat: int, timeout_s: float,
          ok_codes: tuple[int, ...] = (0,)) -> Run:
    log = DATA_DIR / "logs" / f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    run = Run(name)
    for _ in range(repeat):
        rc, wall, cpu = run_once(argv, cwd, env, log, timeout_s)
        if rc not in ok_codes:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
            return Run(name, "error", note=f"exit {rc}: {tail[0][:200]}")
        run.wall_s = wall if run.wall_s is None else min(run.wall_s, wall)
        run.cpu_s = cpu if run.cpu_s is None else min(run.cpu_s, cpu)
    return run


def ensure_peer() -> tuple[bool, str]:
    """detect-secrets in its own venv; (available, version or why not)."""
    log = DATA_DIR / "logs" / "peer-install.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if not PEER_CLI.exists():
        print("  installing detect-secrets into benchmarks/.peers/secrets-venv ...", flush=True)
        with log.open("w") as out:
            for argv in ([sys.executable, "-m", "venv", str(PEER_VENV)],
                         [str(PEER_VENV / "bin" / "pip"), "install", "--quiet", "detect-secrets"]):
                if subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                    return False, f"install failed (see {log})"
    probe = subprocess.run([str(PEER_CLI), "--version"], capture_output=True, text=True)
    return (probe.returncode == 0, probe.stdout.strip() or probe.stderr.strip()[-200:])


def run_detect_secrets(corpus: Corpus, repeat: int, timeout_s: float) -> Run:
    out = DATA_DIR / "detect-secrets.json"
    argv = ["/bin/sh", "-c", f'"{PEER_CLI}" scan --all-files . > "{out}"']
    run = timed("detect-secrets", argv, corpus.root, dict(os.environ), repeat, timeout_s)
    if run.status == "ok":
        results = json.loads(out.read_text())["results"]
        for path, items in results.items():
            for item in items:
                run.reports.append({"path": path, "line": item.get("line_number", 0), "type": item["type"],
                                    "hashes": [item["hashed_secret"]]})
    return run


def _bastion_env() -> dict[str, str]:
    env = dict(os.environ, BASTION_HOME=str(HOME_DIR))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not _secrets_registered():
        info = PLUGIN_DIR / "bastion_secrets_bench-0.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "entry_points.txt").write_text("[bastion.checks]\nsecrets = bastion.supplychain.secrets:SecretsCheck\n")
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bastion-secrets-bench\nVersion: 0\n")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(PLUGIN_DIR), env.get("PYTHONPATH"))))
    return env


def _secrets_registered() -> bool:
    probe = subprocess.run([str(DEFAULT_PYTHON), "-c", "from bastion.plugins import plugins; "
                            "print(any(p.name == 'secrets' for p in plugins('bastion.checks')))"],
                           capture_output=True, text=True, cwd=ROOT)
    return probe.stdout.strip() == "True"


def _bastion_reports(findings: list[dict[str, Any]], corpus: Corpus) -> list[dict[str, Any]]:
    reports = []
    for finding in findings:
        if not finding["rule_id"].startswith("BST-SEC"):
            continue
        path = os.path.relpath(finding["location"]["path"], corpus.root)
        found = re.search(r"fingerprint ([0-9a-f]{16})", finding["evidence"])
        line = re.search(r"at line (\d+)\.", finding["detail"])
        reports.append({"path": path, "line": int(line.group(1)) if line else 0, "type": finding["title"],
                        "hashes": [found.group(1)] if found else []})
    return reports


def run_bastion_library(corpus: Corpus, python: Path, repeat: int, timeout_s: float) -> Run:
    out = DATA_DIR / "bastion-library.json"
    argv = [str(python), "-c", LIBRARY_RUN, str(corpus.root), str(out)]
    run = timed("bastion (library, secrets check)", argv, ROOT, _bastion_env(), repeat, timeout_s)
    if run.status == "ok":
        run.reports = _bastion_reports(json.loads(out.read_text())["findings"], corpus)
    return run


def run_bastion_cli(corpus: Corpus, bastion: Path, repeat: int, timeout_s: float, hashing: bool = True) -> Run:
    out = DATA_DIR / "bastion-scan.json"
    argv = [str(bastion), "scan", str(corpus.root), "--format", "json", "--output", str(out)]
    name = "bastion scan (end to end)" if hashing else "bastion scan --no-hash"
    run = timed(name, argv + ([] if hashing else ["--no-hash"]), ROOT, _bastion_env(), repeat, timeout_s,
                ok_codes=(0, 1, 2))
    if run.status == "ok":
        run.reports = _bastion_reports(json.loads(out.read_text())["findings"], corpus)
    return run


# --------------------------------------------------------------------------- scoring


def _pem_body(secret: str) -> str:
    return "".join(line.strip() for line in secret.split("\n") if line and not line.startswith("-----"))


def _hashes(item: Planted, key: bytes) -> set[str]:
    """What each tool reports for this key: detect-secrets' SHA-1, Bastion's keyed fingerprint."""
    canonical = _pem_body(item.secret) if item.secret.startswith("-----") else item.secret
    return {hashlib.sha1(item.secret.encode()).hexdigest(),
            hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()[:16]}


@dataclass
class Score:
    """Recall and false positives of one tool."""

    found: int = 0
    planted: int = 0
    notebook_found: int = 0
    notebook_planted: int = 0
    false_positives: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_place: Counter[str] = field(default_factory=Counter)


def score(run: Run, corpus: Corpus, key: bytes) -> Score:
    result = Score(planted=len(corpus.planted))
    used: set[int] = set()
    by_hash: dict[tuple[str, str], list[int]] = {}
    by_line: dict[tuple[str, int], list[int]] = {}
    for index, report in enumerate(run.reports):
        for value in report["hashes"]:
            by_hash.setdefault((report["path"], value), []).append(index)
        by_line.setdefault((report["path"], report["line"]), []).append(index)
    for item in corpus.planted:
        hits = [i for h in _hashes(item, key) for i in by_hash.get((item.path, h), [])]
        if not hits and item.line:
            hits = by_line.get((item.path, item.line), [])
        in_notebook = item.path.endswith(".ipynb")
        result.notebook_planted += in_notebook
        if hits:
            used.update(hits)
            result.found += 1
            result.notebook_found += in_notebook
            result.by_kind[item.kind] += 1
            result.by_place[item.notebook or Path(item.path).suffix] += 1
    result.false_positives = len(run.reports) - len(used)
    return result


# --------------------------------------------------------------------------- report


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.1f}%)" if b else "-"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def report(runs: list[Run], scores: dict[str, Score], corpus: Corpus, peer: str) -> list[str]:
    total = sum(sum(v) for v in corpus.sizes.values())
    counts = ", ".join(f"{k[1:]} {len(v)}" for k, v in corpus.sizes.items())
    in_nb = [p for p in corpus.planted if p.notebook]
    lines = [f"corpus: {sum(len(v) for v in corpus.sizes.values())} files, {total / 1e6:.1f} MB ({counts}); "
             f"{len(corpus.planted)} planted keys ({len(in_nb)} in notebooks, "
             f"{sum(p.notebook not in ('source', 'escaped') for p in in_nb)} of them outside cell sources, "
             f"{sum(p.notebook == 'escaped' for p in in_nb)} behind JSON escapes); {corpus.decoys} placeholders",
             f"peer: detect-secrets {peer}; {platform.platform()}, {os.cpu_count()} CPUs", "",
             f"{'tool':<36} {'wall s':>8} {'CPU s':>8} {'wall x':>7} {'CPU x':>7} {'recall':>18} "
             f"{'notebook recall':>16} {'false pos.':>10}"]
    peer_run = next((r for r in runs if r.name == "detect-secrets" and r.status == "ok"), None)
    for run in runs:
        if run.status != "ok":
            lines.append(f"{run.name:<36} {run.status}: {run.note}")
            continue
        s = scores[run.name]
        wall_x = f"{peer_run.wall_s / run.wall_s:.1f}" if peer_run and peer_run.wall_s and run.wall_s else "-"
        cpu_x = f"{peer_run.cpu_s / run.cpu_s:.1f}" if peer_run and peer_run.cpu_s and run.cpu_s else "-"
        lines.append(f"{run.name:<36} {_num(run.wall_s):>8} {_num(run.cpu_s):>8} {wall_x:>7} {cpu_x:>7} "
                     f"{_pct(s.found, s.planted):>18} {_pct(s.notebook_found, s.notebook_planted):>16} "
                     f"{s.false_positives:>10}")
    lines += ["", "recall by kind (" + ", ".join(r.name for r in runs if r.status == "ok") + "):"]
    planted_kinds = Counter(p.kind for p in corpus.planted)
    for kind in KEYS:
        cells = [f"{scores[r.name].by_kind[kind]:>3}" for r in runs if r.status == "ok"]
        lines.append(f"  {kind:<22} planted {planted_kinds[kind]:>3}  found " + " / ".join(cells))
    places = Counter(p.notebook for p in in_nb)
    lines.append("notebook recall by place:")
    for place, count in sorted(places.items()):
        cells = [f"{scores[r.name].by_place[place]:>3}" for r in runs if r.status == "ok"]
        lines.append(f"  {place:<22} planted {count:>3}  found " + " / ".join(cells))
    return lines


def targets(runs: list[Run], scores: dict[str, Score]) -> list[str]:
    peer = next((r for r in runs if r.name == "detect-secrets" and r.status == "ok"), None)
    out = []
    for run in runs:
        if run.name == "detect-secrets" or run.status != "ok" or run.wall_s is None:
            continue
        s = scores[run.name]
        if peer is None or peer.wall_s is None:
            out.append(f"{run.name}: N/A (detect-secrets did not run)")
            continue
        speed = peer.wall_s / run.wall_s
        recall_ok = s.found >= scores[peer.name].found
        notebooks_ok = s.notebook_found == s.notebook_planted
        out.append(f"{run.name}: {speed:.1f}x faster (target >= {SPEED_TARGET:g}x: "
                   f"{'PASS' if speed >= SPEED_TARGET else 'FAIL'}); recall {s.found} vs {scores[peer.name].found} "
                   f"({'PASS' if recall_ok else 'FAIL'}); notebook keys {s.notebook_found}/{s.notebook_planted} "
                   f"({'PASS' if notebooks_ok else 'FAIL'})")
    return out


def warm_page_cache(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            path.read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2400, help="Files in the corpus (default 2400).")
    parser.add_argument("--seed", type=int, default=7, help="Corpus seed (default 7).")
    parser.add_argument("--repeat", type=int, default=3, help="Timed runs of each Bastion command (best counts).")
    parser.add_argument("--peer-repeat", type=int, default=1, help="Timed runs of detect-secrets (default 1).")
    parser.add_argument("--skip-peer", action="store_true", help="Measure Bastion only.")
    parser.add_argument("--timeout", type=float, default=1800, help="Seconds per run (default 1800).")
    parser.add_argument("--bastion", type=Path, default=DEFAULT_BASTION, help="The bastion executable.")
    parser.add_argument("--python", type=Path, default=DEFAULT_PYTHON, help="Python with Bastion installed.")
    args = parser.parse_args(argv)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    corpus = build_corpus(args.files, args.seed)
    warm_page_cache(corpus.root)
    peer_ok, peer = (False, "skipped") if args.skip_peer else ensure_peer()
    subprocess.run([str(args.python), "-m", "compileall", "-q", str(ROOT / "src" / "bastion")], check=False)
    runs = []
    if peer_ok:
        print("  detect-secrets ...", flush=True)
        runs.append(run_detect_secrets(corpus, args.peer_repeat, args.timeout))
    print("  bastion (library) ...", flush=True)
    runs.append(run_bastion_library(corpus, args.python, args.repeat, args.timeout))
    print("  bastion scan ...", flush=True)
    runs.append(run_bastion_cli(corpus, args.bastion, args.repeat, args.timeout))
    runs.append(run_bastion_cli(corpus, args.bastion, args.repeat, args.timeout, hashing=False))
    key = (HOME_DIR / "secrets" / "fingerprint.key").read_bytes()
    scores = {run.name: score(run, corpus, key) for run in runs if run.status == "ok"}
    lines = report(runs, scores, corpus, peer) + [""] + targets(runs, scores)
    print("\n".join(lines))
    (DATA_DIR / "results.json").write_text(json.dumps({
        "runs": [{k: v for k, v in asdict(r).items() if k != "reports"} for r in runs],
        "scores": {name: {k: (dict(v) if isinstance(v, Counter) else v) for k, v in vars(s).items()}
                   for name, s in scores.items()},
        "platform": platform.platform(), "cpus": os.cpu_count(), "peer": peer,
    }, indent=2) + "\n")
    return 0 if all(r.status == "ok" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
