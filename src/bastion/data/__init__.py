"""Data checks: personal data in datasets (``bastion.data.pii``) and its anonymisation (``bastion.data.anonymize``)."""
