"""Rules for ONNX."""

from __future__ import annotations

from bastion.taxonomy.base import MODEL_FILE_REFS, Reference, Rule, Severity

REFERENCES: tuple[Reference, ...] = (
    Reference("CVE-2022-25882", "onnx: directory traversal through external_data locations (before 1.13.0)",
              "https://nvd.nist.gov/vuln/detail/CVE-2022-25882"),
    Reference("CVE-2024-27318", "onnx: path sanitization bypass of external_data locations (before 1.16.0)",
              "https://nvd.nist.gov/vuln/detail/CVE-2024-27318"),
    Reference("CVE-2025-51480", "onnx: arbitrary file overwrite through external_data locations in "
              "save_external_data", "https://nvd.nist.gov/vuln/detail/CVE-2025-51480"),
    Reference("ONNX:external-data", "ONNX external data: tensors stored in files next to the model",
              "https://onnx.ai/onnx/repo-docs/ExternalData.html"),
    Reference("ORT:custom-ops", "onnxruntime custom operators (native libraries registered into a session)",
              "https://onnxruntime.ai/docs/reference/operators/add-custom-op.html"),
)
"""References these rules cite that the shared list does not hold."""

RULES: tuple[Rule, ...] = (
    Rule("BST-ONX-001", Severity.HIGH, "ONNX external data location escapes the model folder",
         "A tensor keeps its data in an external file whose location is an absolute path, a Windows drive or UNC "
         "path, climbs out with '..', resolves through a symbolic link outside the model's folder, or is "
         "onnxruntime's in-memory tag */_ORT_MEM_ADDR_/* (its offset is then read as a memory address). onnx and "
         "onnxruntime read external data when the model is loaded, so the model pulls an arbitrary local file "
         "(keys, credentials) into its weights and can return it in its outputs (CVE-2022-25882, "
         "CVE-2024-27318); tools that re-save the model write to that location (CVE-2025-51480). A UNC path also "
         "makes Windows connect to a remote share, leaking the user's credentials.",
         "Do not load this model. External data must be relative paths to files shipped in the model's folder; "
         "re-export it with onnx.save_model(..., save_as_external_data=True, location='weights.data'), and keep "
         "onnx and onnxruntime up to date.",
         (*MODEL_FILE_REFS, "CVE-2022-25882", "CVE-2024-27318", "CVE-2025-51480", "ONNX:external-data")),
    Rule("BST-ONX-002", Severity.LOW, "ONNX external data file is missing or unusable",
         "A tensor keeps its data in an external file that is not next to the model, is not a regular file, is "
         "shorter than the offset and length the tensor declares, or the tensor names no location at all. "
         "Loading fails, or reads something other than what was published; what the model would read cannot be "
         "verified.",
         "Ship the external data files with the model (same folder, names as in the model) and verify them "
         "against the publisher's checksums.", (*MODEL_FILE_REFS, "ONNX:external-data")),
    Rule("BST-ONX-003", Severity.MEDIUM, "ONNX model uses a custom operator domain",
         "Nodes use an operator domain that neither ONNX (ai.onnx, ai.onnx.ml, the training domains) nor "
         "onnxruntime's own kernels (com.microsoft and its internal layout and DirectML domains, "
         "org.pytorch.aten) implement, and that no function in the model defines. Running the model requires "
         "registering a custom-op library: native code loaded into the process from outside the model, which "
         "must be trusted on its own.",
         "Confirm which library implements the domain and obtain it from a trusted source, or re-export the "
         "model with standard operators.", (*MODEL_FILE_REFS, "ORT:custom-ops")),
)
"""The rules, in id order."""
