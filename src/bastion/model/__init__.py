"""Model testing: adapters and safe loading, adversarial robustness, poisoning and backdoor detection."""

from bastion.model.base import ModelAdapter, ModelError
from bastion.model.constraints import ConstraintError, Constraints

__all__ = ["ConstraintError", "Constraints", "ModelAdapter", "ModelError"]
