"""Fairness: group metrics with bootstrap intervals, calibration by group, dataset audits and mitigations."""
