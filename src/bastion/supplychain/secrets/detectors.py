"""The provider table: one ``Detector`` per credential format, with real, current key formats.

Each row names the lower-case needles that must occur in a text before its pattern is tried, and the pattern that
then confirms the credential at (or, for shape-only formats, near) each needle occurrence. Specific formats come
first: when two detectors claim overlapping bytes, the earlier row wins, so an ``sk-proj-`` key is reported as an
OpenAI project key and not again as a generic ``sk-`` key.

Formats without a distinctive prefix (Azure OpenAI 32-hex keys, Cohere and Mistral keys, W&B keys, legacy
Pinecone UUIDs, AWS secret keys) are searched only within ``window`` bytes of a context word such as ``cohere``,
and the plainest shapes (hex, UUID) also need a word naming a secret before them on their line. A few shapes have
no needle at all: they are recognised when a name-based assignment (``TWILIO_API_KEY = ...``,
``aws_secret_access_key: ...``) holds a value of their shape (see ``NAMED_SHAPES``).
"""

from __future__ import annotations

import re

from bastion.findings import Severity
from bastion.supplychain.secrets.interface import Detector

__all__ = ["DETECTORS", "GENERIC_RULE", "KEY_RULE", "NAMED_SHAPES", "PROVIDER_RULE", "detector", "has_cases"]

PROVIDER_RULE = "BST-SEC-001"
"""A credential in a provider's own format (AI services, clouds, code hosts, SaaS APIs)."""
KEY_RULE = "BST-SEC-002"
"""A private key block or a cloud service-account key."""
GENERIC_RULE = "BST-SEC-003"
"""A high-entropy value assigned to a name that says it is a secret."""

_S = rb"(?:(?<![A-Za-z0-9_\-])|(?<=\\[nrt]))"
"""Start boundary: no key character before, except a JSON/C escape such as ``\\n`` in raw JSON text."""
_E = rb"(?![A-Za-z0-9_\-])"
"""End boundary: no key character after."""
_UUID_LOWER = rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_UUID = rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def has_cases(secret: bytes) -> bool:
    """Upper- and lower-case letters both present (random base62 bodies; not words or hex)."""
    return secret != secret.lower() and secret != secret.upper()


def _mixed(secret: bytes) -> bool:
    """Upper case, lower case and a digit: a random base62 body of 32+ characters always has all three."""
    return has_cases(secret) and any(48 <= c <= 57 for c in secret)


def _openai_marker(secret: bytes) -> bool:
    return b"T3BlbkFJ" in secret  # base64 of "OpenAI", embedded in every OpenAI secret key


def _digit_and_letter(secret: bytes) -> bool:
    return any(48 <= c <= 57 for c in secret) and any(c >= 97 for c in secret.lower())


_URL_WORDS = frozenset({b"pass", b"pwd", b"passwd", b"password", b"token", b"secret", b"key", b"repo", b"user",
                        b"username", b"admin", b"root", b"guest", b"test", b"changeme", b"mypassword"})


def _url_password(secret: bytes) -> bool:
    """A password in a URL, not a documented stand-in (``user:password@``, ``org:repo@``, ``${PASS}``, ``{pw}``)."""
    from bastion.supplychain.secrets.generic import is_placeholder

    return (secret.lower() not in _URL_WORDS and not is_placeholder(secret) and not secret.startswith((b"$", b"%"))
            and b"{" not in secret)


def _pem_body(secret: bytes) -> bytes:
    """The base64 body of a PEM block: headers, whitespace and ``\\n`` escapes removed, so the same key gives the
    same fingerprint in a file, in a JSON string and in a notebook."""
    text = re.sub(rb"\\{1,2}[nrt]", b"\n", secret)
    lines = [line.strip() for line in text.split(b"\n")]
    return b"".join(line for line in lines if b":" not in line)


def _pem_ok(secret: bytes) -> bool:
    body = _pem_body(secret)
    return len(body) >= 64 and re.fullmatch(rb"[A-Za-z0-9+/=]+", body) is not None



_OPENAI_BODY = rb"[A-Za-z0-9_\-]{32,250}+"

DETECTORS: tuple[Detector, ...] = (
    # --- Private keys (PEM, OpenSSH, PGP) first: a block claims its bytes, so no shape inside its base64 body
    # is reported on its own. A GCP service-account JSON holds one in "private_key".
    Detector(
        "private-key", "Private key", "private key", (b"-----begin",),
        rb"-----BEGIN[ A-Z0-9]{0,30} PRIVATE KEY(?: BLOCK)?-----(?P<secret>(?:[A-Za-z0-9+/=\s:,\-.]|\\{1,2}[nrt])"
        rb"{40,16000}?)-----END", rule_id=KEY_RULE, validator=_pem_ok, canonical=_pem_body, max_length=48100,
        refine=((b"service_account", "Google Cloud service account"),)),
    # --- JSON Web Tokens: first too, so that no key shape inside a token is reported on its own.
    Detector(
        "jwt", "JSON Web Token", "token", (b"eyj",),
        _S + rb"(?P<secret>eyJ[A-Za-z0-9_\-]{10,4000}+\.eyJ[A-Za-z0-9_\-]{10,8000}+\.[A-Za-z0-9_\-]{16,1000}+)" + _E,
        prefix="eyJ", min_entropy=3.5, severity=Severity.HIGH, max_length=13100),
    # --- OpenAI: sk-proj- (project), sk-svcacct- (service account), sk-admin- (admin), legacy sk- with marker.
    Detector(
        "openai-project-key", "OpenAI", "project API key", (b"sk-",),
        _S + rb"(?P<secret>sk-proj-" + _OPENAI_BODY + rb")" + _E, prefix="sk-proj-", min_entropy=3.5,
        max_length=270),
    Detector(
        "openai-service-account-key", "OpenAI", "service-account API key", (b"sk-",),
        _S + rb"(?P<secret>sk-svcacct-" + _OPENAI_BODY + rb")" + _E, prefix="sk-svcacct-", min_entropy=3.5,
        max_length=270),
    Detector(
        "openai-admin-key", "OpenAI", "admin API key", (b"sk-",),
        _S + rb"(?P<secret>sk-admin-" + _OPENAI_BODY + rb")" + _E, prefix="sk-admin-", min_entropy=3.5,
        max_length=270),
    # --- Anthropic: sk-ant-api03- (API), sk-ant-admin01- (admin), other sk-ant-<kind>NN- tokens (OAuth oat01/ort01,
    # session sid01).
    Detector(
        "anthropic-api-key", "Anthropic", "API key", (b"sk-",),
        _S + rb"(?P<secret>sk-ant-api\d\d-[A-Za-z0-9_\-]{32,200}+)" + _E, prefix="sk-ant-", min_entropy=3.5,
        max_length=220),
    Detector(
        "anthropic-admin-key", "Anthropic", "admin API key", (b"sk-",),
        _S + rb"(?P<secret>sk-ant-admin\d\d-[A-Za-z0-9_\-]{32,200}+)" + _E, prefix="sk-ant-", min_entropy=3.5,
        max_length=220),
    Detector(
        "anthropic-token", "Anthropic", "token", (b"sk-",),
        _S + rb"(?P<secret>sk-ant-[a-z]{2,6}\d\d-[A-Za-z0-9_\-]{32,200}+)" + _E, prefix="sk-ant-", min_entropy=3.5,
        max_length=220),
    Detector(
        "openrouter-api-key", "OpenRouter", "API key", (b"sk-",),
        _S + rb"(?P<secret>sk-or-v1-[0-9a-f]{64})" + _E, prefix="sk-or-", min_entropy=3.0, max_length=80),
    Detector(
        "langfuse-secret-key", "Langfuse", "secret key", (b"sk-",),
        _S + rb"(?P<secret>sk-lf-" + _UUID_LOWER + rb")" + _E, prefix="sk-lf-", min_entropy=3.0, max_length=50),
    Detector(
        "openai-api-key", "OpenAI", "API key", (b"sk-",),
        _S + rb"(?P<secret>sk-[A-Za-z0-9_\-]{36,250}+)" + _E, prefix="sk-", validator=_openai_marker,
        min_entropy=3.5, max_length=260),
    Detector(
        "deepseek-api-key", "DeepSeek", "API key", (b"sk-",),
        _S + rb"(?P<secret>sk-[0-9a-f]{32})" + _E, prefix="sk-", context=(b"deepseek",), min_entropy=3.0,
        max_length=40),
    Detector(
        "cerebras-api-key", "Cerebras", "API key", (b"sk-",),
        _S + rb"(?P<secret>csk-[a-z0-9]{40,56})" + _E, prefix="csk-", reach=1, min_entropy=3.5,
        validator=_digit_and_letter, max_length=64),
    Detector(
        "sk-api-key", "OpenAI-compatible service", "sk- API key", (b"sk-",),
        _S + rb"(?P<secret>sk-[A-Za-z0-9]{32,64})" + _E, prefix="sk-", min_entropy=3.5,
        validator=_digit_and_letter, severity=Severity.HIGH, max_length=72,
        refine=((b"deepseek", "DeepSeek"), (b"moonshot", "Moonshot AI"), (b"kimi", "Moonshot AI"),
               (b"dashscope", "Alibaba Cloud Model Studio"), (b"qwen", "Alibaba Cloud Model Studio"),
               (b"stability", "Stability AI"), (b"openai", "OpenAI"))),
    # --- Google: API keys (Gemini when the context says so), OAuth client secrets and access tokens.
    Detector(
        "google-api-key", "Google", "API key", (b"aiza",),
        _S + rb"(?P<secret>AIza[0-9A-Za-z_\-]{35})" + _E, prefix="AIza", min_entropy=3.5, max_length=40,
        refine=((b"gemini", "Google Gemini"), (b"generativeai", "Google Gemini"), (b"genai", "Google Gemini"),
               (b"generativelanguage", "Google Gemini"))),
    Detector(
        "google-oauth-client-secret", "Google", "OAuth client secret", (b"gocspx-",),
        _S + rb"(?P<secret>GOCSPX-[A-Za-z0-9_\-]{28})" + _E, prefix="GOCSPX-", min_entropy=3.5, max_length=36),
    Detector(
        "google-oauth-token", "Google", "OAuth access token", (b"ya29.",),
        _S + rb"(?P<secret>ya29\.[0-9A-Za-z_\-]{30,2048}+)" + _E, prefix="ya29.", min_entropy=3.5,
        severity=Severity.HIGH, max_length=2060),
    # --- Hugging Face user and organisation tokens.
    Detector(
        "huggingface-token", "Hugging Face", "access token", (b"hf_",),
        _S + rb"(?P<secret>hf_[A-Za-z0-9]{34,40})" + _E, prefix="hf_", min_entropy=3.5, validator=has_cases,
        max_length=44),
    Detector(
        "huggingface-org-token", "Hugging Face", "organisation API token", (b"api_org_",),
        _S + rb"(?P<secret>api_org_[A-Za-z0-9]{34})" + _E, prefix="api_org_", min_entropy=3.5,
        validator=has_cases, max_length=44),
    # --- The _-prefixed families that share the "sk_" needle: Groq, Pinecone, LangSmith, ElevenLabs, Stripe.
    Detector(
        "groq-api-key", "Groq", "API key", (b"sk_",),
        _S + rb"(?P<secret>gsk_[A-Za-z0-9]{48,56})" + _E, prefix="gsk_", reach=1, min_entropy=3.5,
        validator=has_cases, max_length=60),
    Detector(
        "pinecone-api-key", "Pinecone", "API key", (b"sk_",),
        _S + rb"(?P<secret>pcsk_[A-Za-z0-9]{4,10}_[A-Za-z0-9]{40,90})" + _E, prefix="pcsk_", reach=2,
        min_entropy=3.5, max_length=110),
    Detector(
        "langsmith-api-key", "LangSmith", "API key", (b"lsv2_",),
        _S + rb"(?P<secret>lsv2_(?:pt|sk)_[0-9a-f]{32}_[0-9a-f]{10})" + _E, prefix="lsv2_", min_entropy=3.0,
        max_length=60),
    Detector(
        "langsmith-legacy-key", "LangSmith", "legacy API key", (b"ls__",),
        _S + rb"(?P<secret>ls__[0-9a-f]{32})" + _E, prefix="ls__", min_entropy=3.0, max_length=40),
    Detector(
        "stripe-secret-key", "Stripe", "secret key", (b"sk_", b"rk_"),
        _S + rb"(?P<secret>[rs]k_(?:live|test)_[A-Za-z0-9]{24,99})" + _E, prefix="sk_", min_entropy=3.5,
        max_length=110),
    Detector(
        "elevenlabs-api-key", "ElevenLabs", "API key", (b"sk_",),
        _S + rb"(?P<secret>sk_[0-9a-f]{48})" + _E, prefix="sk_", min_entropy=3.0, max_length=52),
    # --- Other generative-AI services with their own prefixes.
    Detector(
        "xai-api-key", "xAI", "API key", (b"xai-",),
        _S + rb"(?P<secret>xai-[A-Za-z0-9]{60,100})" + _E, prefix="xai-", min_entropy=3.5, validator=has_cases,
        max_length=110),
    Detector(
        "replicate-api-token", "Replicate", "API token", (b"r8_",),
        _S + rb"(?P<secret>r8_[A-Za-z0-9]{36,40})" + _E, prefix="r8_", min_entropy=3.5, validator=has_cases,
        max_length=44),
    Detector(
        "langfuse-public-key", "Langfuse", "public key", (b"pk-lf-",),
        _S + rb"(?P<secret>pk-lf-" + _UUID_LOWER + rb")" + _E, prefix="pk-lf-", min_entropy=3.0,
        severity=Severity.LOW, max_length=50),
    Detector(
        "perplexity-api-key", "Perplexity", "API key", (b"pplx-",),
        _S + rb"(?P<secret>pplx-[A-Za-z0-9]{40,56})" + _E, prefix="pplx-", min_entropy=3.5, max_length=64),
    Detector(
        "nvidia-api-key", "NVIDIA", "API key", (b"nvapi-",),
        _S + rb"(?P<secret>nvapi-[A-Za-z0-9_\-]{60,70})" + _E, prefix="nvapi-", min_entropy=3.5, max_length=80),
    Detector(
        "fireworks-api-key", "Fireworks AI", "API key", (b"fw_",),
        _S + rb"(?P<secret>fw_[A-Za-z0-9]{24,40})" + _E, prefix="fw_", min_entropy=3.5, validator=_mixed,
        max_length=48),
    Detector(
        "tavily-api-key", "Tavily", "API key", (b"tvly-",),
        _S + rb"(?P<secret>tvly-(?:dev-|prod-)?[A-Za-z0-9]{32})" + _E, prefix="tvly-", min_entropy=3.5,
        max_length=48),
    Detector(
        "together-api-key", "Together AI", "API key", (b"tgp_v1_",),
        _S + rb"(?P<secret>tgp_v1_[A-Za-z0-9_\-]{40,50})" + _E, prefix="tgp_v1_", min_entropy=3.5, max_length=60),
    Detector(
        "databricks-token", "Databricks", "personal access token", (b"dapi",),
        _S + rb"(?P<secret>dapi[0-9a-f]{32}(?:-\d)?)" + _E, prefix="dapi", min_entropy=3.0, max_length=40),
    # --- Clouds and code hosts.
    Detector(
        "aws-access-key-id", "AWS", "access key ID", (b"akia", b"asia"),
        _S + rb"(?P<secret>A(?:KIA|SIA|BIA|CCA)[A-Z2-7]{16})" + _E, prefix="AKIA", min_entropy=3.0,
        severity=Severity.HIGH, max_length=24),
    Detector(
        "github-token", "GitHub", "token", (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_"),
        _S + rb"(?P<secret>gh[pousr]_[A-Za-z0-9]{36,251})" + _E, prefix="ghp_", min_entropy=3.5, max_length=260),
    Detector(
        "github-fine-grained-token", "GitHub", "fine-grained personal access token", (b"github_pat_",),
        _S + rb"(?P<secret>github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})" + _E, prefix="github_pat_",
        min_entropy=3.5, max_length=96),
    Detector(
        "gitlab-token", "GitLab", "personal access token", (b"glpat-",),
        _S + rb"(?P<secret>glpat-[A-Za-z0-9_\-]{20,40})" + _E, prefix="glpat-", min_entropy=3.5, max_length=48),
    Detector(
        "azure-annotated-key", "Azure", "API key", (b"jqqj9",),
        _S + rb"(?P<secret>[A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9][A-L][A-Za-z0-9]{16}[A-Za-z][A-Za-z0-9]{7}"
        rb"(?:[A-Za-z0-9]{2}==)?)" + _E, reach=52, min_entropy=3.5, max_length=40,
        refine=((b"openai", "Azure OpenAI"),)),
    Detector(
        "azure-ad-client-secret", "Azure", "Entra ID client secret", (b"q~",),
        rb"(?<![A-Za-z0-9_~.\-])(?P<secret>[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})(?![A-Za-z0-9_~.\-])",
        reach=4, min_entropy=3.5, max_length=40),
    Detector(
        "azure-storage-key", "Azure", "storage account key", (b"accountkey=",),
        rb"AccountKey=(?P<secret>[A-Za-z0-9+/]{86}==)", min_entropy=4.0, max_length=110),
    # --- Other services that peers detect (Slack, npm, PyPI, SendGrid, Square, Artifactory, JWTs...).
    Detector(
        "slack-token", "Slack", "token", (b"xox",),
        _S + rb"(?P<secret>xox[abposr]-[0-9A-Za-z\-]{10,250}+)" + _E, prefix="xox", min_entropy=3.0,
        max_length=260),
    Detector(
        "slack-webhook", "Slack", "incoming webhook URL", (b"hooks.slack.com",),
        rb"hooks\.slack\.com/(?:services|workflows)/(?P<secret>[A-Za-z0-9_/\-]{20,150}+)", min_entropy=3.5,
        severity=Severity.HIGH, max_length=180),
    Detector(
        "npm-token", "npm", "access token", (b"npm_",),
        _S + rb"(?P<secret>npm_[A-Za-z0-9]{36})" + _E, prefix="npm_", min_entropy=3.5, max_length=40),
    Detector(
        "pypi-token", "PyPI", "API token", (b"pypi-ageichlwas5vcmc",),
        _S + rb"(?P<secret>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,1000}+)" + _E, prefix="pypi-", min_entropy=3.5,
        max_length=1030),
    Detector(
        "sendgrid-api-key", "SendGrid", "API key", (b"sg.",),
        _S + rb"(?P<secret>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})" + _E, prefix="SG.", min_entropy=3.5,
        max_length=70),
    Detector(
        "square-token", "Square", "access token", (b"sq0",),
        _S + rb"(?P<secret>sq0(?:atp|csp)-[A-Za-z0-9_\-]{22,43})" + _E, prefix="sq0", min_entropy=3.5,
        max_length=52),
    Detector(
        "artifactory-token", "JFrog Artifactory", "API key", (b"akcp",),
        _S + rb"(?P<secret>AKCp[A-Za-z0-9]{69})" + _E, prefix="AKCp", min_entropy=3.5, max_length=76),
    Detector(
        "telegram-bot-token", "Telegram", "bot token", (b":aa",),
        rb"(?<![0-9])(?P<secret>\d{8,10}:AA[A-Za-z0-9_\-]{33})" + _E, reach=10, min_entropy=3.5, max_length=40),
    # --- Shapes without a prefix: searched only near a context word.
    Detector(
        "azure-openai-key", "Azure OpenAI", "API key", (b"azure",),
        rb"(?<![A-Za-z0-9])(?P<secret>[0-9a-f]{32}|[0-9A-F]{32})(?![A-Za-z0-9])", window=1024, keyed=True,
        min_entropy=3.0, validator=_digit_and_letter, max_length=32),
    Detector(
        "cohere-api-key", "Cohere", "API key", (b"cohere", b"co_api_key"),
        rb"(?<![A-Za-z0-9_\-])(?P<secret>[A-Za-z0-9]{40})(?![A-Za-z0-9_\-])", window=1024, min_entropy=4.0,
        validator=_mixed, max_length=40),
    Detector(
        "mistral-api-key", "Mistral AI", "API key", (b"mistral",),
        rb"(?<![A-Za-z0-9_\-])(?P<secret>[A-Za-z0-9]{32})(?![A-Za-z0-9_\-])", window=1024, min_entropy=3.8,
        validator=_mixed, max_length=32),
    Detector(
        "wandb-api-key", "Weights & Biases", "API key", (b"wandb",),
        rb"(?<![A-Za-z0-9_\-])(?P<secret>(?:local-)?[0-9a-f]{40})(?![A-Za-z0-9_\-])", window=1024, keyed=True,
        min_entropy=3.0, validator=_digit_and_letter, max_length=46),
    Detector(
        "pinecone-legacy-key", "Pinecone", "legacy API key", (b"pinecone",),
        rb"(?<![A-Za-z0-9_\-])(?P<secret>" + _UUID + rb")(?![A-Za-z0-9_\-])", window=1024, keyed=True,
        min_entropy=3.0, max_length=36),
    Detector(
        "together-legacy-key", "Together AI", "API key", (),
        rb"(?<![A-Za-z0-9_\-])(?P<secret>[0-9a-f]{64})(?![A-Za-z0-9_\-])", window=1024, keyed=True,
        min_entropy=3.0, max_length=64),
    Detector(
        "aws-secret-access-key", "AWS", "secret access key",
        (b"akia", b"asia", b"secret_access", b"secretaccesskey"),
        rb"(?<![A-Za-z0-9/+=])(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])", window=1024, min_entropy=4.0,
        validator=_mixed, max_length=40),
    Detector(
        "twilio-api-key", "Twilio", "API key", (),
        rb"(?<![A-Za-z0-9])(?P<secret>SK[0-9a-fA-F]{32})(?![A-Za-z0-9])", window=1024, min_entropy=3.0,
        max_length=34),
    Detector(
        "basic-auth-url", "URL credentials", "password in URL", (b"://",),
        rb"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:@/\"'<>\\]{1,100}:"
        rb"(?P<secret>[^\s:@/\"'<>\\]{3,100})@[A-Za-z0-9.\-]", reach=22, validator=_url_password,
        severity=Severity.HIGH, max_length=210),
)
"""Every provider detector, most specific first."""

_BY_ID = {d.detector_id: d for d in DETECTORS}

NAMED_SHAPES: tuple[tuple[frozenset[bytes], str], ...] = (
    (frozenset({b"aws"}), "aws-secret-access-key"),
    (frozenset({b"secret", b"access"}), "aws-secret-access-key"),
    (frozenset({b"together"}), "together-legacy-key"),
    (frozenset({b"twilio"}), "twilio-api-key"),
    (frozenset({b"azure"}), "azure-openai-key"),
    (frozenset({b"cohere"}), "cohere-api-key"),
    (frozenset({b"co", b"api"}), "cohere-api-key"),
    (frozenset({b"mistral"}), "mistral-api-key"),
    (frozenset({b"wandb"}), "wandb-api-key"),
    (frozenset({b"pinecone"}), "pinecone-legacy-key"),
)
"""(words all in an assignment's name, detector): a generic assignment whose value has the detector's shape is
reported as that provider's credential (``AWS_SECRET_ACCESS_KEY = <40 characters>`` is an AWS secret key)."""


def detector(detector_id: str) -> Detector:
    """The detector with this id; raises KeyError naming it."""
    try:
        return _BY_ID[detector_id]
    except KeyError:
        raise KeyError(f"no secrets detector {detector_id!r}") from None
