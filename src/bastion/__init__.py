"""Bastion: one tool that secures AI systems through their whole life.

Kept import-light on purpose: ``bastion --version`` must stay well under 0.3 s of CPU.
"""

__version__ = "0.1.0"
