"""Rules for safetensors: header and layout validation, and what the free-form ``__metadata__`` carries."""

from __future__ import annotations

from bastion.taxonomy.base import DONT_LOAD, MODEL_FILE_REFS, Reference, Rule, Severity


def _cwe(number: int, title: str) -> Reference:
    return Reference(f"CWE-{number}", f"CWE-{number}: {title}",
                     f"https://cwe.mitre.org/data/definitions/{number}.html")


REFERENCES: tuple[Reference, ...] = (
    _cwe(22, "Improper Limitation of a Pathname to a Restricted Directory ('Path Traversal')"),
    _cwe(78, "Improper Neutralization of Special Elements used in an OS Command ('OS Command Injection')"),
    _cwe(79, "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')"),
    _cwe(94, "Improper Control of Generation of Code ('Code Injection')"),
    _cwe(125, "Out-of-bounds Read"),
    _cwe(502, "Deserialization of Untrusted Data"),
    _cwe(506, "Embedded Malicious Code"),
)
"""References these rules cite that the shared list does not hold."""

_REEXPORT = (
    "Re-export the weights with the safetensors library (safetensors.torch.save_file or save_model), which "
    "writes a contiguous, validated layout, and obtain the file from its publisher through a verified channel."
)
_LAYOUT_REFS = (*MODEL_FILE_REFS, "ATLAS:AML.T0018", "CWE-125")
_METADATA_FIX = (
    "Do not pass safetensors metadata to an interpreter, shell or HTML page. Strip the metadata (re-save with "
    "metadata=None or only the keys you need) and find out who put the content there."
)

RULES: tuple[Rule, ...] = (
    Rule("BST-ST-001", Severity.MEDIUM, "Safetensors header is not a valid header",
         "The 8-byte length is followed by a header that is not UTF-8, not JSON, not a JSON object, larger than "
         "the reference loader accepts (100,000,000 bytes), or that repeats __metadata__. The safetensors library "
         "refuses such a file, so it was not written by it; other parsers may read it differently.",
         _REEXPORT, MODEL_FILE_REFS),
    Rule("BST-ST-002", Severity.MEDIUM, "Safetensors tensor entry is malformed",
         "A tensor entry is not an object, lacks dtype/shape/data_offsets, names a dtype the format does not "
         "define, has a shape that is not a list of non-negative integers, data_offsets that are not "
         "[begin, end] with begin <= end, a size that overflows 64 bits, or a sub-byte tensor that does not end "
         "on a byte boundary. The reference loader refuses the file; lenient loaders interpret it their own way.",
         _REEXPORT, MODEL_FILE_REFS),
    Rule("BST-ST-003", Severity.MEDIUM, "Tensor byte range disagrees with its shape and dtype",
         "data_offsets span a different number of bytes than prod(shape) x dtype size. The reference loader "
         "refuses the file; a loader that trusts the shape reads past the tensor (into other tensors or past the "
         "end of the file, which is reported as high), one that trusts the offsets reshapes garbage.",
         _REEXPORT, _LAYOUT_REFS),
    Rule("BST-ST-004", Severity.HIGH, "Tensor byte range lies outside the data section",
         "A tensor's data_offsets end beyond the bytes the file holds. The reference loader refuses it; a "
         "loader that slices a memory map without checking reads out of bounds or crashes.",
         _REEXPORT, _LAYOUT_REFS),
    Rule("BST-ST-005", Severity.HIGH, "Tensors overlap in the data section",
         "Two tensors share bytes. The safetensors writer never produces this and the reference loader refuses "
         "it; lenient loaders alias the tensors, so changing one changes the other, and crafted overlaps are a "
         "way to make two parsers see different weights.",
         _REEXPORT, _LAYOUT_REFS),
    Rule("BST-ST-006", Severity.HIGH, "Data section holds bytes no tensor covers",
         "There is a gap between tensors or data after the last tensor. The reference loader refuses "
         "non-contiguous layouts; the uncovered bytes are a place to hide a payload (a pickle, an archive, a "
         "second model) that other tools may pick up. Non-zero bytes are scanned as embedded content; "
         "zero-filled gaps are reported as medium.",
         _REEXPORT, (*_LAYOUT_REFS, "CWE-506")),
    Rule("BST-ST-007", Severity.MEDIUM, "Safetensors header padding is not spaces",
         "After the JSON object, the declared header length is padded with something other than spaces. Tabs "
         "and newlines are only unusual (low); NUL bytes make the reference loader refuse the file (medium); any "
         "other content is hidden data inside the header (high) and is scanned as embedded content.",
         _REEXPORT, (*MODEL_FILE_REFS, "CWE-506")),
    Rule("BST-ST-008", Severity.MEDIUM, "Safetensors header repeats a key",
         "A JSON object in the header has the same key twice. JSON parsers disagree on which one wins, so two "
         "tools can see different tensors or metadata in the same file (high when the values differ).",
         _REEXPORT, (*MODEL_FILE_REFS, "ATLAS:AML.T0018")),
    Rule("BST-ST-009", Severity.MEDIUM, "Safetensors __metadata__ is not a map of strings",
         "The format defines __metadata__ as a string-to-string map; the reference loader refuses anything "
         "else, so the file was crafted or written by a non-conforming tool.",
         _REEXPORT, MODEL_FILE_REFS),
    Rule("BST-ST-010", Severity.HIGH, "Safetensors metadata carries Python code",
         "A metadata value (or a base64/hex blob inside it) holds Python that imports dangerous modules or calls "
         "exec, eval, os.system, subprocess, pickle.loads and the like. Loading the weights does not run it, but "
         "a tool or notebook that evaluates metadata does, and benign models never ship it.",
         _METADATA_FIX, (*MODEL_FILE_REFS, "CWE-94")),
    Rule("BST-ST-011", Severity.HIGH, "Safetensors metadata carries shell commands",
         "A metadata value holds shell commands: a download piped into a shell, rm -rf, a reverse shell, "
         "encoded PowerShell (high), or a bare download or chmod (medium). They run if any pipeline passes the "
         "metadata to a shell.",
         _METADATA_FIX, (*MODEL_FILE_REFS, "CWE-78")),
    Rule("BST-ST-012", Severity.MEDIUM, "Safetensors metadata carries active web content",
         "A metadata value holds a <script> tag, a javascript: URL or an HTML event handler. Model hubs, "
         "dashboards and model cards that render metadata as HTML run it in the viewer's browser.",
         _METADATA_FIX, (*MODEL_FILE_REFS, "CWE-79")),
    Rule("BST-ST-013", Severity.MEDIUM, "Safetensors metadata links to a suspicious host or payload",
         "A metadata URL points at a raw public IP address, a paste, tunnel, webhook or dynamic-DNS host, an "
         "executable or script payload, or sits under a callback/webhook/exfiltration key. Links to the usual "
         "model and code hosts (huggingface.co, github.com...) are not reported.",
         "Do not fetch the URL; remove it from the metadata and find out who put it there.",
         MODEL_FILE_REFS),
    Rule("BST-ST-014", Severity.HIGH, "Safetensors metadata embeds a pickle or an executable",
         "A base64 or hex blob in the metadata decodes to a pickle or a native executable (high), or an archive "
         "(medium). It does not run when the weights load, but it is a payload staged for a second tool; pickles "
         "and archives are scanned, and their findings are reported with the member name ending in "
         "'!__metadata__[key]'.",
         DONT_LOAD, (*MODEL_FILE_REFS, "CWE-502", "CWE-506")),
    Rule("BST-ST-015", Severity.LOW, "Safetensors metadata holds a large opaque encoded blob",
         "A metadata value holds kilobytes of base64 or hex that decode to unrecognised binary data (images are "
         "not reported). It is not executable as far as Bastion can tell, but it is data that travels with the "
         "model without being part of it.",
         "Check what the blob is and whether the model needs it; strip it otherwise.", MODEL_FILE_REFS),
    Rule("BST-ST-016", Severity.MEDIUM, "Safetensors shard index names a file outside the model folder",
         "model.safetensors.index.json maps tensors to shard files; an absolute path or '..' makes loaders that "
         "join it to the model folder read weights from elsewhere on the machine.",
         "Use plain shard file names in the weight_map; obtain the index from the model's publisher.",
         (*MODEL_FILE_REFS, "CWE-22")),
)
"""The rules, in id order."""
