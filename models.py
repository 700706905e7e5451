"""List the model store's versions to choose which one serves, or import one from MLflow
(``python models.py import-mlflow``): ``python models.py --help``."""

from tabserve.store.cli import app

if __name__ == "__main__":
    app()
