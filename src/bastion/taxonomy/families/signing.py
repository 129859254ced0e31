"""Rules for model signatures."""

from __future__ import annotations

from bastion.taxonomy.base import Reference, Rule

REFERENCES: tuple[Reference, ...] = ()
"""References these rules cite that the shared list does not hold."""

RULES: tuple[Rule, ...] = ()
"""The rules, in id order."""
