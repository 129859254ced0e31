"""Model adapters: scikit-learn, PyTorch / TorchScript, ONNX and plain callables behind one interface."""
