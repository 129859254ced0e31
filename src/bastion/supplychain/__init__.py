"""Supply-chain security: model-file formats and their static analysers."""

from bastion.supplychain.modelfiles import ModelFileCheck, sniff

__all__ = ["ModelFileCheck", "sniff"]
