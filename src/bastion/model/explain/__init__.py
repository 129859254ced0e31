"""Explanations: permutation importance, SHAP values and compact per-decision records.

SHAP values come from TreeSHAP through ``shap`` for tree models, Bastion's own batched permutation SHAP for any
model, or ``shap``'s KernelExplainer; ``ExplainTest`` puts them into one checked report.
"""

from bastion.model.explain.importance import ImportanceResult, PermutationImportance, ranking_stability
from bastion.model.explain.records import LocalExplanation, local_explanations
from bastion.model.explain.report import ExplainTest, ExplanationReport
from bastion.model.explain.shapley import ShapExplainer, ShapValues, explain_shap

__all__ = ["ExplainTest", "ExplanationReport", "ImportanceResult", "LocalExplanation", "PermutationImportance",
           "ShapExplainer", "ShapValues", "explain_shap", "local_explanations", "ranking_stability"]
