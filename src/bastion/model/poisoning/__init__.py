"""Training-data poisoning: label issues (confident learning) and backdoors (activations, STRIP, Neural Cleanse)."""
