"""Shadow AI: code that uses a generative-AI service, found by its SDK imports, its API hosts and its client classes.

Python imports (``import openai``, ``from langchain_anthropic import ChatAnthropic``) and JavaScript/TypeScript
imports and requires (``from "@anthropic-ai/sdk"``) are read in code only; API host names (``api.openai.com``,
``*.openai.azure.com``, ``generativelanguage.googleapis.com``...) and ``pip install`` commands (notebook
``%pip install openai`` cells, Dockerfiles, scripts) in any text that is not prose. Each sign maps to
one service of ``SERVICES``; the check compares them with ``[ai] approved``.

Integration packages name the service behind them (``langchain_openai`` is OpenAI, ``llama_index.llms.groq`` is
Groq); frameworks that can call any model (LangChain, LlamaIndex, LiteLLM) are services of their own. Where Azure
OpenAI clients (``AzureOpenAI``, ``AzureChatOpenAI``) appear, imports of the ``openai`` SDK in the same text are
counted as Azure OpenAI: that SDK is then the Azure client.
"""

from __future__ import annotations

import re

from bastion.supplychain.secrets.interface import AIUse, Service

__all__ = ["SERVICES", "distribution_service", "find_ai_uses", "javascript_service", "python_service", "service",
           "service_ids"]

SERVICES: tuple[Service, ...] = (
    Service("openai", "OpenAI", python=("openai", "langchain_openai", "llama_index.llms.openai",
                                        "llama_index.embeddings.openai", "llama_index.llms.openai_like"),
            javascript=("openai", "@langchain/openai", "@ai-sdk/openai"), hosts=("api.openai.com",)),
    Service("azure-openai", "Azure OpenAI",
            python=("llama_index.llms.azure_openai", "llama_index.embeddings.azure_openai"),
            javascript=("@azure/openai",), hosts=(".openai.azure.com",),
            classes=("AzureOpenAI", "AsyncAzureOpenAI", "AzureChatOpenAI", "AzureOpenAIEmbeddings")),
    Service("azure-ai", "Azure AI Foundry", python=("azure.ai.inference", "azure.ai.projects"),
            javascript=("@azure-rest/ai-inference",),
            hosts=(".services.ai.azure.com", ".cognitiveservices.azure.com", "models.inference.ai.azure.com")),
    Service("anthropic", "Anthropic", python=("anthropic", "langchain_anthropic", "llama_index.llms.anthropic"),
            javascript=("@anthropic-ai/sdk", "@langchain/anthropic", "@ai-sdk/anthropic"),
            hosts=("api.anthropic.com",)),
    Service("aws-bedrock", "Amazon Bedrock", python=("langchain_aws", "llama_index.llms.bedrock",
                                                     "llama_index.llms.bedrock_converse"),
            javascript=("@aws-sdk/client-bedrock-runtime", "@langchain/aws", "@ai-sdk/amazon-bedrock"),
            hosts=("bedrock-runtime", "bedrock-agent-runtime"),
            classes=("AnthropicBedrock", "ChatBedrock", "ChatBedrockConverse", "BedrockLLM")),
    Service("google-gemini", "Google Gemini API", python=("google.generativeai", "google.genai",
                                                          "google.ai.generativelanguage", "langchain_google_genai",
                                                          "llama_index.llms.gemini", "llama_index.llms.google_genai"),
            javascript=("@google/generative-ai", "@google/genai", "@ai-sdk/google", "@langchain/google-genai"),
            hosts=("generativelanguage.googleapis.com",)),
    Service("google-vertex-ai", "Google Vertex AI", python=("vertexai", "google.cloud.aiplatform",
                                                            "langchain_google_vertexai", "llama_index.llms.vertex"),
            javascript=("@google-cloud/vertexai", "@ai-sdk/google-vertex", "@langchain/google-vertexai"),
            hosts=("aiplatform.googleapis.com", "-aiplatform.googleapis.com"), classes=("AnthropicVertex",)),
    Service("cohere", "Cohere", python=("cohere", "langchain_cohere", "llama_index.llms.cohere"),
            javascript=("cohere-ai", "@langchain/cohere", "@ai-sdk/cohere"), hosts=("api.cohere.ai", "api.cohere.com")),
    Service("mistral", "Mistral AI", python=("mistralai", "langchain_mistralai", "llama_index.llms.mistralai"),
            javascript=("@mistralai/mistralai", "@langchain/mistralai", "@ai-sdk/mistral"),
            hosts=("api.mistral.ai", "codestral.mistral.ai")),
    Service("groq", "Groq", python=("groq", "langchain_groq", "llama_index.llms.groq"),
            javascript=("groq-sdk", "@langchain/groq", "@ai-sdk/groq"), hosts=("api.groq.com",)),
    Service("xai", "xAI", python=("xai_sdk", "langchain_xai"), javascript=("@ai-sdk/xai",), hosts=("api.x.ai",)),
    Service("deepseek", "DeepSeek", python=("langchain_deepseek", "llama_index.llms.deepseek"),
            javascript=("@ai-sdk/deepseek",), hosts=("api.deepseek.com",)),
    Service("openrouter", "OpenRouter", python=("llama_index.llms.openrouter",),
            javascript=("@openrouter/ai-sdk-provider",), hosts=("openrouter.ai",)),
    Service("replicate", "Replicate", python=("replicate", "llama_index.llms.replicate"), javascript=("replicate",),
            hosts=("api.replicate.com",)),
    Service("huggingface", "Hugging Face Inference",
            python=("langchain_huggingface", "llama_index.llms.huggingface_api"),
            javascript=("@huggingface/inference",),
            hosts=("api-inference.huggingface.co", "router.huggingface.co", ".endpoints.huggingface.cloud"),
            classes=("InferenceClient", "AsyncInferenceClient", "InferenceApi", "HuggingFaceEndpoint")),
    Service("together", "Together AI", python=("together", "langchain_together", "llama_index.llms.together"),
            javascript=("together-ai", "@ai-sdk/togetherai"), hosts=("api.together.xyz", "api.together.ai")),
    Service("fireworks", "Fireworks AI", python=("fireworks", "langchain_fireworks", "llama_index.llms.fireworks"),
            javascript=("@ai-sdk/fireworks",), hosts=("api.fireworks.ai",)),
    Service("perplexity", "Perplexity", javascript=("@ai-sdk/perplexity",), hosts=("api.perplexity.ai",)),
    Service("nvidia-nim", "NVIDIA NIM", python=("langchain_nvidia_ai_endpoints",), hosts=("integrate.api.nvidia.com",)),
    Service("cerebras", "Cerebras", python=("cerebras.cloud.sdk", "langchain_cerebras"),
            javascript=("@cerebras/cerebras_cloud_sdk", "@ai-sdk/cerebras"), hosts=("api.cerebras.ai",)),
    Service("alibaba-model-studio", "Alibaba Cloud Model Studio", python=("dashscope",),
            hosts=("dashscope.aliyuncs.com", "dashscope-intl.aliyuncs.com")),
    Service("moonshot", "Moonshot AI", hosts=("api.moonshot.cn", "api.moonshot.ai")),
    Service("ollama", "Ollama", python=("ollama", "langchain_ollama", "llama_index.llms.ollama"),
            javascript=("ollama",)),
    Service("litellm", "LiteLLM", python=("litellm",)),
    Service("langchain", "LangChain", python=("langchain", "langchain_core", "langchain_community"),
            javascript=("langchain", "@langchain/core", "@langchain/community")),
    Service("llama-index", "LlamaIndex", python=("llama_index",), javascript=("llamaindex",)),
    Service("vercel-ai-sdk", "Vercel AI SDK", javascript=("ai",)),
)
"""Every service Bastion recognises; ``[ai] approved`` names them by ``service_id``."""

_BY_ID = {s.service_id: s for s in SERVICES}
_PYTHON = {module: s.service_id for s in SERVICES for module in s.python}
_JAVASCRIPT = {package: s.service_id for s in SERVICES for package in s.javascript}
_CLASSES = {name: s.service_id for s in SERVICES for name in s.classes}
_CLASS_NEEDLES = tuple(sorted({n.lower().encode("ascii") for n in _CLASSES if not any(
    o.lower() in n.lower() and o != n for o in _CLASSES)}))
"""Lower-case class names that no other class name contains (``azureopenai`` also finds ``AsyncAzureOpenAI``)."""
_EXACT_HOSTS = {h: s.service_id for s in SERVICES for h in s.hosts if not h.startswith((".", "-"))}
_LABEL_HOSTS = {h: s for h, s in _EXACT_HOSTS.items() if "." not in h}
_SUFFIX_HOSTS = tuple((h, s.service_id) for s in SERVICES for h in s.hosts if h.startswith((".", "-")))
_HOST_NEEDLES = (b"api.", b".azure.com", b".googleapis.com", b"huggingface.", b"openrouter.ai", b"bedrock-",
                 b"aliyuncs.com", b"mistral.ai")
"""Substrings of every host above (checked by a test); a host is read whole around each occurrence."""

_HOSTNAME = re.compile(rb"[a-z0-9\-]+(?:\.[a-z0-9\-]+)+|bedrock(?:-agent)?-runtime")
_MODULE = rb"[A-Za-z_][\w.]*(?:[ \t]+as[ \t]+\w+)?"
_PY_IMPORT = re.compile(rb"[ \t]*(?:from[ \t]+(?P<from>[A-Za-z_][\w.]*)[ \t]+import[ \t]+\(?[ \t]*(?P<names>"
                        + _MODULE + rb"(?:[ \t]*,[ \t]*" + _MODULE + rb")*)"
                        rb"|import[ \t]+(?P<mods>" + _MODULE + rb"(?:[ \t]*,[ \t]*" + _MODULE + rb")*))")
_JS_IMPORT = re.compile(rb"(?:from|import)[ \t]*\(?[ \t]*[\"'](?P<a>[^\"'\s]{1,214})[\"']"
                        rb"|require[ \t]*\([ \t]*[\"'](?P<b>[^\"'\s]{1,214})[\"']")
_IDENTIFIER = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_PIP_LINE = re.compile(rb"[^\n#&;|]{0,400}")
_DISTRIBUTIONS = {
    "google-generativeai": "google.generativeai", "google-genai": "google.genai", "google-cloud-aiplatform":
    "vertexai", "xai-sdk": "xai_sdk", "fireworks-ai": "fireworks", "cerebras-cloud-sdk": "cerebras.cloud.sdk",
    "llama-index": "llama_index",
}
"""pip distribution names whose module differs from the name with dashes made underscores."""


def service(service_id: str) -> Service:
    """The service with this id; raises KeyError naming it."""
    try:
        return _BY_ID[service_id]
    except KeyError:
        raise KeyError(f"no AI service {service_id!r}") from None


def service_ids() -> tuple[str, ...]:
    """Every known service id, sorted."""
    return tuple(sorted(_BY_ID))


def python_service(module: str) -> str | None:
    """The service a Python module belongs to (longest dotted prefix), or None."""
    parts = module.split(".")
    for size in range(len(parts), 0, -1):
        found = _PYTHON.get(".".join(parts[:size]))
        if found is not None:
            return found
    return None


def javascript_service(specifier: str) -> str | None:
    """The service an npm import specifier belongs to (``@scope/name/sub`` is ``@scope/name``), or None."""
    parts = specifier.split("/")
    package = "/".join(parts[:2]) if specifier.startswith("@") else parts[0]
    return _JAVASCRIPT.get(package)


def _line_of(text: bytes, position: int, counted: list[int]) -> int:
    """1-based line of ``position``; ``counted`` caches (offset, line) so ascending calls stay linear."""
    offset, line = counted
    if position < offset:
        offset, line = 0, 1
    line += text.count(b"\n", offset, position)
    counted[:] = [position, line]
    return line


def _hosts(text: bytes, lower: bytes) -> list[tuple[int, str, str]]:
    found: dict[int, tuple[int, str, str]] = {}
    for needle in _HOST_NEEDLES:
        position = lower.find(needle)
        while position >= 0:
            for match in _HOSTNAME.finditer(lower, max(0, position - 100), position + len(needle) + 160):
                if match.start() <= position < match.end() and match.start() not in found:
                    host = match.group().decode("ascii")
                    service_id = _host_service(host)
                    if service_id is not None and (match.start() == 0 or not lower[match.start() - 1:match.start()]
                                                   .isalnum()):
                        found[match.start()] = (match.start(), service_id, f"host {host}")
            position = lower.find(needle, position + len(needle))
    return sorted(found.values())


def _host_service(host: str) -> str | None:
    """Exact hosts, ``.suffix`` hosts, and dot-less entries (``bedrock-runtime``) as a host's first label."""
    exact = _EXACT_HOSTS.get(host) or _LABEL_HOSTS.get(host.split(".", 1)[0])
    if exact is not None:
        return exact
    return next((service_id for suffix, service_id in _SUFFIX_HOSTS if host.endswith(suffix)), None)


def _python_imports(text: bytes, lower: bytes) -> list[tuple[int, str, str]]:
    found: list[tuple[int, str, str]] = []
    seen: set[int] = set()
    position = lower.find(b"import")
    while position >= 0:
        line_start = text.rfind(b"\n", 0, position) + 1
        if line_start not in seen:
            seen.add(line_start)
            line_end = text.find(b"\n", position)
            match = _PY_IMPORT.match(text, line_start, len(text) if line_end < 0 else line_end)
            if match is not None:
                found.extend(_modules(match, line_start))
        position = lower.find(b"import", position + 6)
    return found


def _modules(match: re.Match[bytes], start: int) -> list[tuple[int, str, str]]:
    """The services of one import statement; ``from google import genai`` imports ``google.genai``."""
    if match.group("from"):
        package = match.group("from").decode("ascii")
        names = [n.split()[0].decode("ascii") for n in match.group("names").split(b",") if n.strip()]
        own = python_service(package)
        candidates = [(f"{package}.{name}", f"from {package} import {name}") for name in names
                      if python_service(f"{package}.{name}") != own]
        candidates.append((package, f"import {package}"))
    else:
        modules = [n.split()[0].decode("ascii") for n in match.group("mods").split(b",") if n.strip()]
        candidates = [(module, f"import {module}") for module in modules]
    offset = start + len(match.group()) - len(match.group().lstrip())
    out: dict[str, tuple[int, str, str]] = {}
    for module, indicator in candidates:
        service_id = python_service(module)
        if service_id is not None:
            out.setdefault(service_id, (offset, service_id, indicator))
    return list(out.values())


def distribution_service(name: str) -> str | None:
    """The service of a pip distribution (``openai``, ``langchain-anthropic``, ``llama-index-llms-groq``), or None."""
    name = re.sub(r"[-_.]+", "-", name.lower())
    if name.startswith("llama-index-") and name.count("-") >= 3:  # llama-index-llms-groq -> llama_index.llms.groq
        parts = name.split("-", 3)
        return python_service(f"llama_index.{parts[2]}.{parts[3].replace('-', '_')}")
    return python_service(_DISTRIBUTIONS.get(name, name.replace("-", "_")))


def _pip_installs(text: bytes, lower: bytes) -> list[tuple[int, str, str]]:
    """``pip install openai anthropic`` (also ``%pip``, ``!pip``, ``pip3``, ``uv pip``, ``RUN pip ...``)."""
    found: list[tuple[int, str, str]] = []
    position = lower.find(b"pip install")
    while position >= 0:
        line = _PIP_LINE.match(text, position + 11)
        for word in (line.group().split() if line else []):
            name = re.split(rb"[\[<>=!~;@ ]", word.strip(b"'\""), maxsplit=1)[0].decode("ascii", "replace")
            service_id = None if word.startswith(b"-") or not name else distribution_service(name)
            if service_id is not None:
                found.append((position, service_id, f"pip install {name}"))
        position = lower.find(b"pip install", position + 11)
    return found


def _javascript_imports(text: bytes, lower: bytes) -> list[tuple[int, str, str]]:
    found: dict[int, tuple[int, str, str]] = {}
    for needle in (b"from", b"import", b"require"):
        position = lower.find(needle)
        while position >= 0:
            match = _JS_IMPORT.match(text, position)
            if match is not None:
                specifier = (match.group("a") or match.group("b")).decode("utf-8", "replace")
                service_id = javascript_service(specifier)
                if service_id is not None:
                    found.setdefault(position, (position, service_id, f"import {specifier}"))
            position = lower.find(needle, position + len(needle))
    return sorted(found.values())


def _clients(text: bytes, lower: bytes) -> list[tuple[int, str, str]]:
    found: dict[int, tuple[int, str, str]] = {}
    for needle in _CLASS_NEEDLES:
        position = lower.find(needle)
        while position >= 0:
            start = position
            while start > 0 and (text[start - 1:start].isalnum() or text[start - 1] == 95) and position - start < 40:
                start -= 1
            match = _IDENTIFIER.match(text, start)
            name = match.group().decode("ascii") if match else ""
            if name in _CLASSES:
                found.setdefault(start, (start, _CLASSES[name], f"client {name}"))
            position = lower.find(needle, position + len(needle))
    return sorted(found.values())


def find_ai_uses(text: bytes, lower: bytes | None = None, *, language: str | None = None,
                 hosts: bool = True) -> list[AIUse]:
    """Every sign of generative-AI use in ``text``.

    ``language``: ``python`` or ``javascript`` to read imports and client classes (code), None for hosts only.
    ``hosts``: whether to look for API host names (False for prose such as Markdown)."""
    lower = text.lower() if lower is None else lower
    sites: list[tuple[str, tuple[int, str, str]]] = []
    if hosts:
        sites.extend(("host", site) for site in _hosts(text, lower))
        sites.extend(("import", site) for site in _pip_installs(text, lower))
    if language == "python":
        sites.extend(("import", site) for site in _python_imports(text, lower))
    elif language == "javascript":
        sites.extend(("import", site) for site in _javascript_imports(text, lower))
    if language is not None:
        sites.extend(("client", site) for site in _clients(text, lower))
    sites.sort(key=lambda item: item[1][0])
    azure = any(site[1] == "azure-openai" for kind, site in sites if kind != "host")
    counted = [0, 1]
    uses = []
    for kind, (start, service_id, indicator) in sites:
        if azure and kind == "import" and service_id == "openai":
            service_id = "azure-openai"
        uses.append(AIUse(service_id, kind, indicator, start, _line_of(text, start, counted)))
    return uses
