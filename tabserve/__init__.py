"""tabserve: train tabular classifiers into the BentoML model store and serve them, typed and batched."""
