"""Training: classifier families, cross-validated tuning, saving with the ONNX fast path, and the CLI.

Imports scikit-learn and pandas, except the three modules the service's worker uses to check and
start a /train task: ``algorithms`` (ids and grids), ``data`` (uploads, numpy alone) and ``job``.
The serving side (``tabserve.serving``) never imports this package."""
