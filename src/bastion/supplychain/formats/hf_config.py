"""Hugging Face JSON configs: ``config.json``, ``tokenizer_config.json``, ``chat_template.json`` and the like.

Recognised by their keys, never by file name: a Keras config (``class_name`` + ``config``), a skops schema
(``__class__``/``__loader__``) or an arbitrary JSON object is left to other analysers. Examined: chat templates
(``chat_template`` as a string, a list of ``{name, template}`` or a mapping, any key naming a template, and any
top-level string holding Jinja markup), and ``auto_map`` / ``custom_pipelines`` entries, which make Transformers
import Python shipped with the model (``trust_remote_code=True``). Facts come from what the file states.

The analyser and its ``sniff`` (the key checks) live here; the analysis lives in ``_hf_config_impl``, imported
only when a config is analysed (its public names, such as ``task_of``, are re-exported lazily).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bastion.supplychain.formats.interface import Blob, Report

if TYPE_CHECKING:
    from bastion.supplychain.formats._hf_config_impl import task_of

__all__ = ["ANALYZER", "HfConfigAnalyzer", "task_of"]

# Keys only Hugging Face configs have, with the JSON type they have there: one is enough.
_STRONG: dict[str, type | tuple[type, ...]] = {
    "transformers_version": str, "architectures": list, "auto_map": dict, "tokenizer_class": str,
    "added_tokens_decoder": dict, "chat_template": (str, list, dict), "_name_or_path": str,
    "custom_pipelines": dict,
}
# Keys common in Hugging Face configs but generic alone: two are needed.
_WEAK = frozenset({
    "model_type", "torch_dtype", "dtype", "model_max_length", "bos_token", "eos_token", "pad_token", "unk_token",
    "vocab_size", "hidden_size", "num_attention_heads", "num_hidden_layers", "max_position_embeddings",
    "clean_up_tokenization_spaces", "add_bos_token", "add_eos_token", "bos_token_id", "eos_token_id",
    "pad_token_id", "intermediate_size", "rms_norm_eps", "layer_norm_eps", "hidden_act", "initializer_range",
    "tie_word_embeddings", "rope_theta", "use_cache", "sp_model_kwargs", "do_lower_case", "processor_class",
    "additional_special_tokens", "special_tokens_map_file", "id2label", "label2id",
})
_NOT_HF = (("class_name", "config"), ("__class__",), ("__loader__",))
"""Key sets that mark other formats' JSON: Keras configs and skops schemas."""

_LAZY = frozenset({"MAX_TEMPLATES", "task_of"})
"""Names of the analysis half, served from ``_hf_config_impl`` on first access."""


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from bastion.supplychain.formats import _hf_config_impl

        return getattr(_hf_config_impl, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class HfConfigAnalyzer:
    """Hugging Face model, tokenizer, processor and generation configs (JSON)."""

    kind = "hf-json"

    def sniff(self, blob: Blob) -> bool:
        """A JSON object with one Hugging Face-only key (of the right type) or two common ones, and no other
        format's marker keys."""
        if not blob.looks_like_json_object():
            return False
        try:
            data = blob.json()
        except ValueError:
            return False
        return isinstance(data, dict) and _is_hf(data)

    def analyse(self, blob: Blob, report: Report) -> None:
        """Record facts, analyse chat templates, and report remote-code references."""
        from bastion.supplychain.formats._hf_config_impl import analyse

        analyse(blob, report)


def _is_hf(data: dict[str, object]) -> bool:
    if any(all(key in data for key in marker) for marker in _NOT_HF):
        return False
    if any(isinstance(data.get(key), kind) for key, kind in _STRONG.items()):
        return True
    return sum(key in data for key in _WEAK) >= 2


ANALYZER = HfConfigAnalyzer()
