"""Explanations: permutation importance, SHAP values (TreeSHAP through shap, batched permutation SHAP, KernelSHAP) and compact per-decision records."""
