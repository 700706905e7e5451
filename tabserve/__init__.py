"""tabserve: train tabular classifiers into the BentoML model store and serve them, typed and batched."""

__version__ = "0.1.0"
