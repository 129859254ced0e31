"""Evasion attacks: gradient (torch), decision-based (NumPy), tree-ensemble and text-character attacks."""
