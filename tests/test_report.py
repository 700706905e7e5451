"""The training report: real PNG figures per model and an HTML page that shows them, for 2 and 3 classes."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from tabserve.datasets import BREAST_CANCER, PENGUINS, DatasetSpec
from tabserve.training.algorithms import ALGORITHMS
from tabserve.training.report import REPORT_FILE, ReportedModel, model_figures, write_report
from tabserve.training.tuning import split_dataset, train_algorithm

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """The image sources and the text of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("spec", [PENGUINS, BREAST_CANCER], ids=lambda spec: spec.name)
def test_report_shows_every_models_figures(spec: DatasetSpec, tmp_path: Path):
    split = split_dataset(spec, 42)
    models = []
    for number, algorithm in enumerate(("logistic_regression", "random_forest")):
        trained = train_algorithm(spec, ALGORITHMS[algorithm], split, seed=42, cv_folds=3, quick=True)
        figures = model_figures(spec, trained, split, tmp_path / "run" / "figures")
        # One saved model and one from a dry run (no tag): both are reported.
        tag = f"{spec.name}_{algorithm}:v{number}" if number == 0 else None
        models.append(ReportedModel(trained, tag, figures, None))

    for model in models:
        assert len(model.figures) == 2  # a confusion matrix and the ROC curves
        for figure in model.figures:
            assert figure.read_bytes().startswith(PNG_SIGNATURE)
            pixels = imread(figure)  # decodes: a real image, not just a header
            height, width = pixels.shape[:2]
            assert height > 200 and width > 200
            assert np.ptp(pixels[..., :3]) > 0.5  # something is drawn on it

    report = write_report(
        spec, models, split, tmp_path / "run", context={"seed": "42", "cv folds": "3", "grid": "quick"}
    )
    assert report == tmp_path / "run" / REPORT_FILE
    page = Page()
    page.feed(report.read_text(encoding="utf-8"))
    text = " ".join(page.text)
    assert sorted((report.parent / src).resolve() for src in page.images) == sorted(
        figure.resolve() for model in models for figure in model.figures
    )
    assert all(not Path(src).is_absolute() for src in page.images)  # the folder can be moved
    assert models[0].tag in text and "(not saved)" in text
    for model in models:
        assert model.trained.algorithm in text
        assert f"{model.trained.metrics['f1_macro']:.4f}" in text
    assert ("roc_auc" if len(spec.classes) == 2 else "roc_auc_ovr") in text
    assert "cv folds" in text and spec.title in text
