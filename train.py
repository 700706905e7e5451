"""Train the classifiers into the BentoML model store: ``python train.py --help``."""

from tabserve.training.cli import app

if __name__ == "__main__":
    app()
