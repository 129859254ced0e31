"""Fairness: group metrics with bootstrap intervals, calibration by group, dataset audits and mitigations."""

from bastion.model.fairness.audit import AuditReport, DatasetAudit, load_reference
from bastion.model.fairness.groups import GroupIndex
from bastion.model.fairness.mitigation import Mitigation, MitigationResult, reweighing_weights
from bastion.model.fairness.report import FairnessReport, FairnessTest, GroupResult
from bastion.model.fairness.run import FairnessRun, run_fairness

__all__ = ["AuditReport", "DatasetAudit", "FairnessReport", "FairnessRun", "FairnessTest", "GroupIndex",
           "GroupResult", "Mitigation", "MitigationResult", "load_reference", "reweighing_weights", "run_fairness"]
