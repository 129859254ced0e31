"""Fake credentials for the secrets tests.

Every key is assembled at run time from a format prefix and a body drawn from ``random.Random(seed)``, so no
string in the repository looks like a live credential (GitHub push protection and other scanners stay quiet),
yet each key has the shape and randomness of a real one.
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path
from typing import Any

ALNUM = string.ascii_letters + string.digits
LETTERS = string.ascii_letters
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


def body(seed: int, size: int, alphabet: str = ALNUM) -> str:
    """``size`` characters of ``alphabet``, the same for the same seed."""
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(size))


def uuid(seed: int) -> str:
    h = body(seed, 32, HEX)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def pem(seed: int, label: str = "RSA PRIVATE KEY", escaped: bool = False) -> str:
    """A PEM block with a random base64 body (64-character lines); ``escaped``: newlines as ``\\n`` escapes."""
    raw = "MII" + body(seed, 1021, B64)
    lines = [f"-----BEGIN {label}-----", *(raw[i:i + 64] for i in range(0, len(raw), 64)), f"-----END {label}-----"]
    return ("\\n" if escaped else "\n").join(lines) + ("\\n" if escaped else "\n")


def azure_annotated(seed: int) -> str:
    """The 84-character Azure key layout: 52 characters, the JQQJ9 signature, then the checked tail."""
    return body(seed, 52) + "JQQJ99" + "B" + "C" + body(seed + 1, 16) + "A" + body(seed + 2, 7)


# detector id -> (key, line of text that holds it). Each line is a realistic place for that key.
POSITIVES: dict[str, tuple[str, str]] = {}


def _add(detector_id: str, key: str, template: str = 'API_KEY = "{k}"') -> None:
    POSITIVES[detector_id] = (key, template.replace("{k}", key))


_add("openai-project-key", "sk-proj-" + body(1, 74, URLSAFE) + "T3BlbkFJ" + body(2, 74, URLSAFE),
     'client = OpenAI(api_key="{k}")')
_add("openai-service-account-key", "sk-svcacct-" + body(3, 74, URLSAFE) + "T3BlbkFJ" + body(4, 74, URLSAFE),
     "OPENAI_API_KEY={k}")
_add("openai-admin-key", "sk-admin-" + body(5, 74, URLSAFE) + "T3BlbkFJ" + body(6, 74, URLSAFE),
     "export OPENAI_ADMIN_KEY='{k}'")
_add("openai-api-key", "sk-" + body(7, 20) + "T3BlbkFJ" + body(8, 20), 'openai.api_key = "{k}"')
_add("anthropic-api-key", "sk-ant-api03-" + body(9, 93, URLSAFE) + "AA", "client = anthropic.Anthropic(api_key='{k}')")
_add("anthropic-admin-key", "sk-ant-admin01-" + body(10, 93, URLSAFE) + "AA", "ANTHROPIC_ADMIN_KEY={k}")
_add("anthropic-token", "sk-ant-oat01-" + body(11, 93, URLSAFE) + "AA", "CLAUDE_CODE_OAUTH_TOKEN={k}")
_add("openrouter-api-key", "sk-or-v1-" + body(12, 64, HEX), 'base_url="https://openrouter.ai/api/v1", api_key="{k}"')
_add("langfuse-secret-key", "sk-lf-" + uuid(13), "LANGFUSE_SECRET_KEY={k}")
_add("deepseek-api-key", "sk-" + body(14, 32, HEX), 'OpenAI(api_key="{k}", base_url="https://api.deepseek.com")')
_add("cerebras-api-key", "csk-" + body(15, 48, string.ascii_lowercase + string.digits), "CEREBRAS_API_KEY={k}")
_add("sk-api-key", "sk-" + body(16, 48), 'llm = Client(api_key="{k}")')
_add("google-api-key", "AIza" + body(17, 35, URLSAFE), "url = 'https://maps.example.org/api?key={k}'")
_add("google-oauth-client-secret", "GOCSPX-" + body(18, 28, URLSAFE), '"client_secret": "{k}",')
_add("google-oauth-token", "ya29." + body(19, 120, URLSAFE), "Authorization: Bearer {k}")
_add("huggingface-token", "hf_" + body(20, 34, LETTERS), 'login(token="{k}")')
_add("huggingface-org-token", "api_org_" + body(21, 34, LETTERS), "HF_ORG_TOKEN={k}")
_add("groq-api-key", "gsk_" + body(22, 52), 'client = Groq(api_key="{k}")')
_add("pinecone-api-key", "pcsk_" + body(23, 6) + "_" + body(24, 63), 'pc = Pinecone(api_key="{k}")')
_add("langsmith-api-key", "lsv2_pt_" + body(25, 32, HEX) + "_" + body(26, 10, HEX), "LANGSMITH_API_KEY={k}")
_add("langsmith-legacy-key", "ls__" + body(27, 32, HEX), "LANGCHAIN_API_KEY={k}")
_add("stripe-secret-key", "sk_live_" + body(28, 24), 'stripe.api_key = "{k}"')
_add("elevenlabs-api-key", "sk_" + body(29, 48, HEX), 'headers = {"xi-api-key": "{k}"}')
_add("xai-api-key", "xai-" + body(30, 80), 'client = Client(api_key="{k}")')
_add("replicate-api-token", "r8_" + body(31, 37), "REPLICATE_API_TOKEN={k}")
_add("langfuse-public-key", "pk-lf-" + uuid(32), "LANGFUSE_PUBLIC_KEY={k}")
_add("perplexity-api-key", "pplx-" + body(33, 48), "PERPLEXITY_API_KEY={k}")
_add("nvidia-api-key", "nvapi-" + body(34, 64, URLSAFE), "NVIDIA_API_KEY={k}")
_add("fireworks-api-key", "fw_" + body(35, 24), "FIREWORKS_API_KEY={k}")
_add("tavily-api-key", "tvly-" + body(36, 32), "TAVILY_API_KEY={k}")
_add("together-api-key", "tgp_v1_" + body(37, 43, URLSAFE), "TOGETHER_API_KEY={k}")
_add("databricks-token", "dapi" + body(38, 32, HEX), "DATABRICKS_TOKEN={k}")
_add("aws-access-key-id", "AKIA" + body(39, 16, string.ascii_uppercase + "234567"), "aws_access_key_id = {k}")
_add("github-token", "ghp_" + body(40, 36), "GITHUB_TOKEN={k}")
_add("github-fine-grained-token", "github_pat_" + body(41, 22) + "_" + body(42, 59), 'gh = Github("{k}")')
_add("gitlab-token", "glpat-" + body(43, 20, URLSAFE), "GITLAB_TOKEN={k}")
_add("azure-annotated-key", azure_annotated(44), 'AzureOpenAI(api_key="{k}", azure_endpoint=ENDPOINT)')
_add("azure-ad-client-secret", body(45, 3) + "8Q~" + body(46, 34, URLSAFE + "~."), "AZURE_CLIENT_SECRET={k}")
_add("azure-storage-key", body(47, 86, B64) + "==",
     "DefaultEndpointsProtocol=https;AccountName=demo;AccountKey={k};EndpointSuffix=core.windows.net")
_add("slack-token", "xoxb-" + body(48, 12, string.digits) + "-" + body(49, 24), "SLACK_BOT_TOKEN={k}")
_add("slack-webhook", "T" + body(50, 10, string.ascii_uppercase) + "/B" + body(51, 10, string.ascii_uppercase) + "/"
     + body(52, 24), "url = 'https://hooks.slack.com/services/{k}'")
_add("npm-token", "npm_" + body(53, 36), "//registry.npmjs.org/:_authToken={k}")
_add("pypi-token", "pypi-AgEIcHlwaS5vcmc" + body(54, 70, URLSAFE), "password = {k}")
_add("sendgrid-api-key", "SG." + body(55, 22, URLSAFE) + "." + body(56, 43, URLSAFE), "SENDGRID_API_KEY={k}")
_add("square-token", "sq0atp-" + body(57, 22, URLSAFE), "SQUARE_ACCESS_TOKEN={k}")
_add("artifactory-token", "AKCp" + body(58, 69), "ARTIFACTORY_API_KEY={k}")
_add("telegram-bot-token", body(59, 9, string.digits).replace("0", "1") + ":AA" + body(60, 33, URLSAFE),
     "bot = telebot.TeleBot('{k}')")
_add("jwt", "eyJ" + body(61, 33, URLSAFE) + ".eyJ" + body(62, 60, URLSAFE) + "." + body(63, 43, URLSAFE),
     "Authorization: Bearer {k}")
_add("private-key", pem(64), "{k}")
_add("azure-openai-key", body(65, 32, HEX), "AZURE_OPENAI_API_KEY={k}")
_add("cohere-api-key", body(66, 40), 'co = cohere.ClientV2("{k}")')
_add("mistral-api-key", body(67, 32), 'client = Mistral(api_key="{k}")')
_add("wandb-api-key", body(68, 40, HEX), "!wandb login {k}")
_add("pinecone-legacy-key", uuid(69), 'pinecone.init(api_key="{k}", environment="us-west1-gcp")')
_add("together-legacy-key", body(70, 64, HEX), "TOGETHER_API_KEY={k}")
_add("aws-secret-access-key", body(71, 40, B64), "aws_secret_access_key = {k}")
_add("twilio-api-key", "SK" + body(72, 32, HEX), "TWILIO_API_KEY={k}")
_add("basic-auth-url", "S3cr3t-" + body(73, 12), "DATABASE_URL=postgres://app:{k}@db.internal:5432/app")
_add("generic-secret", body(74, 40, B64), "INTERNAL_SERVICE_SECRET={k}")
_add("generic-password", "Tr0ub4dor&" + body(75, 6), 'db_password = "{k}"')
_add("bearer-token", body(76, 48, URLSAFE), 'headers = {"Authorization": "Bearer {k}"}')

NEGATIVES: dict[str, str] = {
    "placeholder project key": 'OPENAI_API_KEY = "sk-proj-' + "x" * 60 + '"',
    "short project key": 'OPENAI_API_KEY = "sk-proj-abc"',
    "prefix inside a word": "task-proj-" + body(100, 60) + " and mask-" + body(101, 48),
    "anthropic too short": "sk-ant-api03-" + body(102, 10),
    "openrouter not hex": "sk-or-v1-" + body(103, 64, string.ascii_uppercase),
    "langfuse not a uuid": "sk-lf-" + body(104, 36),
    "google key one short": "AIza" + body(105, 34, URLSAFE) + " ",
    "hf lower-case name": "hf_" + "hubdownloadcachedirectoryresolution" + " and hf_hub_download()",
    "groq too short": "gsk_" + body(106, 20),
    "xai too short": "xai-" + body(107, 10),
    "replicate too short": "r8_" + body(108, 10),
    "langsmith one short": "lsv2_pt_" + body(109, 31, HEX) + "_" + body(110, 10, HEX),
    "pinecone too short": "pcsk_" + body(111, 10),
    "github too short": "ghp_" + body(112, 20),
    "aws documented example": 'aws_access_key_id = "AKIA' + "IOSFODNN7" + 'EXAMPLE"',
    "aws lower-case id": "AKIA" + body(113, 16, string.ascii_lowercase),
    "hex checksum near azure": 'checksum = "' + body(114, 32, HEX) + '"  # azure blob md5',
    "commit hash near wandb": 'wandb.init(project="demo", notes="' + body(115, 40, HEX) + '")',
    "uuid near pinecone without key": 'index = pinecone.Index(name="docs", id="' + uuid(116) + '")',
    "lower-case 40 near cohere": 'model = cohere_model("' + body(117, 40, string.ascii_lowercase) + '")',
    "aws 40 without context": 'digest = "' + body(118, 40, B64) + '"',
    "deepseek hex without sk": 'deepseek_run = "' + body(119, 32, HEX) + '"',
    "pem placeholder": "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
    "env reference": 'api_key = os.environ["OPENAI_API_KEY"]',
    "template": 'api_key = "${OPENAI_API_KEY}"',
    "angle placeholder": 'ANTHROPIC_API_KEY="<your-anthropic-key>"',
    "your key": 'api_key = "your-api-key-here"',
    "jinja": "token: '{{ vault_token }}'",
    "dotted code": "API_KEY = settings.OPENAI_API_KEY",
    "type annotation": "def get(self, key: NonNestedLiteral) -> Series:",
    "call": "token = tokenizer.encode(text)",
    "constant name": "SECRET_KEY = DEFAULT_SECRET_KEY_NAME",
    "number": "max_tokens = 4096",
    "low entropy": 'secret = "aaaaaaaabbbbbbbbccccccccdddddddd"',
    "public key": 'public_key = "' + body(120, 40, B64) + '"',
    "key path": 'key_path = "/etc/ssl/private/' + body(121, 20) + '.pem"',
    "url documentation": "smb://workgroup;user:password@server:445/share",
    "url variable": "postgres://app:${DB_PASSWORD}@db:5432/app",
    "word password": 'self.passphrase = b"Passphrase"',
    "bearer variable": 'headers = {"Authorization": f"Bearer {token}"}',
    "jwt one segment": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
}
"""Near misses: text that looks like a credential but is not one (no secret may be reported)."""


def notebook(cells: list[dict[str, Any]], metadata: dict[str, Any] | None = None, nbformat: int = 4) -> dict[str, Any]:
    return {"cells": cells, "metadata": metadata or {"kernelspec": {"name": "python3"}}, "nbformat": nbformat,
            "nbformat_minor": 5}


def code_cell(source: str | list[str], outputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": source, "outputs": outputs or []}


def write_notebook(path: Path, doc: dict[str, Any], replace: dict[str, str] | None = None) -> Path:
    """Write ``doc`` as Jupyter does (indent 1), then apply raw-text replacements (to plant JSON escapes)."""
    text = json.dumps(doc, indent=1)
    for old, new in (replace or {}).items():
        assert old in text
        text = text.replace(old, new)
    path.write_text(text + "\n", encoding="utf-8")
    return path
