"""Anonymisation of texts and tables: operators, policies, format-preserving encryption and k-anonymity."""
