"""The scan pipeline: targets -> checks -> findings."""

from bastion.scan.check import Check, CheckOutcome, Target
from bastion.scan.engine import Skipped, discover, load_checks, scan

__all__ = ["Check", "CheckOutcome", "Skipped", "Target", "discover", "load_checks", "scan"]
