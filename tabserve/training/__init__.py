"""Training: classifier families, cross-validated tuning, saving with the ONNX fast path, and the CLI.

Imports scikit-learn and pandas; the serving side never imports this package."""
