"""Convert a trained Pipeline to ONNX whose answers match scikit-learn's to within float rounding.

skl2onnx's stock converters compute imputation and scaling in float32 and compare float32 tree
thresholds; scikit-learn works in float64 and compares float32 features with float64 thresholds.
Features near a split then land on the other side (differences of 0.06 in a random forest's
probabilities were seen). So, for the conversion only:

* imputation, derived features and scaling are emitted in float64, operation for operation as
  scikit-learn computes them (bit-identical features);
* the step that spells a missing category (None, NaN) as the sentinel string is an identity: ONNX
  string tensors hold only strings, and the engines feed columns built by :mod:`tabserve.codecs.columns`
  (or :func:`tabserve.codecs.frames.normalise_frame`), where a missing category is the sentinel already;
* tree models get an explicit cast to float32 (what scikit-learn does before a tree) and their
  thresholds rounded down to the nearest float32, which keeps every comparison's outcome.

Every converted model is checked against the Pipeline before it is saved (:func:`parity_gap`).
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import pandas as pd
from onnx import TensorProto
from skl2onnx import convert_sklearn, update_registered_converter
from skl2onnx.algebra.onnx_ops import (
    OnnxCast,
    OnnxConcat,
    OnnxDiv,
    OnnxEqual,
    OnnxGather,
    OnnxIdentity,
    OnnxIsNaN,
    OnnxMul,
    OnnxSub,
    OnnxWhere,
)
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree._tree import Tree

from tabserve.datasets import DatasetSpec
from tabserve.features import MissingAsSentinel, RatioFeatures
from tabserve.serving.engines import PROBABILITIES

#: ONNX opsets: 21 for string equality (missing categories), ML opset 3 for tree ensembles.
TARGET_OPSET = {"": 21, "ai.onnx.ml": 3}


class CastToFloat32(TransformerMixin, BaseEstimator):
    """What scikit-learn's trees do to their input first; made explicit for the ONNX graph."""

    def fit(self, X: Any, y: Any = None) -> CastToFloat32:
        return self

    def transform(self, X: Any) -> np.ndarray:
        return np.asarray(X, dtype=np.float32)


def _float_type(variable: Any) -> type:
    return np.float64 if isinstance(variable.type, DoubleTensorType) else np.float32


def _same_shape(operator: Any) -> None:
    source = operator.inputs[0].type
    operator.outputs[0].type = source.__class__(source.shape)


def _ratio_shape(operator: Any) -> None:
    model, source = operator.raw_operator, operator.inputs[0]
    width = len(model.columns) + len(model.ratios)
    operator.outputs[0].type = source.type.__class__([source.get_first_dimension(), width])


def _convert_ratios(scope: Any, operator: Any, container: Any) -> None:
    model, X, opset = operator.raw_operator, operator.inputs[0], container.target_opset
    dtype = _float_type(X)

    def column(name: str) -> Any:
        index = np.array([list(model.columns).index(name)], dtype=np.int64)
        return OnnxGather(X, index, axis=1, op_version=opset)

    pieces: list[Any] = [X]
    for _name, numerator, denominator, factor in model.ratios:
        value = OnnxMul(column(numerator), np.array([factor], dtype=dtype), op_version=opset)
        if denominator is not None:
            value = OnnxDiv(value, column(denominator), op_version=opset)
        pieces.append(value)
    OnnxConcat(*pieces, axis=1, op_version=opset, output_names=operator.outputs[:1]).add_to(scope, container)


def _convert_identity(scope: Any, operator: Any, container: Any) -> None:
    OnnxIdentity(
        operator.inputs[0], op_version=container.target_opset, output_names=operator.outputs[:1]
    ).add_to(scope, container)


def _convert_imputer(scope: Any, operator: Any, container: Any) -> None:
    model, X, opset = operator.raw_operator, operator.inputs[0], container.target_opset
    if isinstance(X.type, StringTensorType):
        fill = np.array(model.statistics_, dtype=object).reshape(1, -1)
        missing = OnnxEqual(X, np.array([model.missing_values], dtype=object), op_version=opset)
    else:
        fill = np.asarray(model.statistics_, dtype=_float_type(X)).reshape(1, -1)
        missing = OnnxIsNaN(X, op_version=opset)
    OnnxWhere(missing, fill, X, op_version=opset, output_names=operator.outputs[:1]).add_to(scope, container)


def _convert_scaler(scope: Any, operator: Any, container: Any) -> None:
    model, X, opset = operator.raw_operator, operator.inputs[0], container.target_opset
    dtype = _float_type(X)
    centred = OnnxSub(X, model.mean_.astype(dtype), op_version=opset)
    OnnxDiv(centred, model.scale_.astype(dtype), op_version=opset, output_names=operator.outputs[:1]).add_to(
        scope, container
    )


def _cast_shape(operator: Any) -> None:
    operator.outputs[0].type = FloatTensorType(operator.inputs[0].type.shape)


def _convert_cast(scope: Any, operator: Any, container: Any) -> None:
    OnnxCast(
        operator.inputs[0],
        to=TensorProto.FLOAT,
        op_version=container.target_opset,
        output_names=operator.outputs[:1],
    ).add_to(scope, container)


update_registered_converter(RatioFeatures, "TabserveRatioFeatures", _ratio_shape, _convert_ratios)
update_registered_converter(MissingAsSentinel, "TabserveMissingAsSentinel", _same_shape, _convert_identity)
update_registered_converter(CastToFloat32, "TabserveCastToFloat32", _cast_shape, _convert_cast)
update_registered_converter(
    SimpleImputer, "TabserveSimpleImputer", _same_shape, _convert_imputer, overwrite=True
)
update_registered_converter(
    StandardScaler, "TabserveStandardScaler", _same_shape, _convert_scaler, overwrite=True
)


def _trees(model: Any) -> list[Tree]:
    estimators = np.asarray(getattr(model, "estimators_", []), dtype=object).ravel()
    return [e.tree_ for e in [model, *estimators] if isinstance(getattr(e, "tree_", None), Tree)]


def _round_thresholds_down(trees: list[Tree]) -> None:
    """Largest float32 <= each threshold: ``x32 <= t32`` then holds exactly when ``x32 <= t64``."""
    for tree in trees:
        thresholds = tree.threshold  # a writable view of the tree's nodes
        as_float32 = thresholds.astype(np.float32)
        above = as_float32.astype(np.float64) > thresholds
        as_float32[above] = np.nextafter(as_float32[above], np.float32(-np.inf))
        thresholds[:] = as_float32.astype(np.float64)


def input_types(spec: DatasetSpec) -> list[tuple[str, Any]]:
    """One ONNX input per column, named like the column: numbers as float64, categories as strings."""
    numeric = [(f.name, DoubleTensorType([None, 1])) for f in spec.numeric]
    return numeric + [(f.name, StringTensorType([None, 1])) for f in spec.categorical]


def to_onnx(spec: DatasetSpec, pipeline: Pipeline) -> bytes:
    """The serialized ONNX model of ``pipeline``; its output ``probabilities`` has one column per class."""
    features, classifier = pipeline[:-1], copy.deepcopy(pipeline.steps[-1][1])
    trees = _trees(classifier)
    extra: dict[str, Any] = {}
    if trees:
        _round_thresholds_down(trees)
        steps = [*features.steps, ("cast", CastToFloat32()), ("classifier", classifier)]
        extra["final_types"] = [
            ("label", StringTensorType([None])),
            (PROBABILITIES, FloatTensorType([None, len(spec.classes)])),
        ]
    else:
        steps = [*features.steps, ("classifier", classifier)]
    options: dict[str, Any] = {"zipmap": False}
    if isinstance(classifier, KNeighborsClassifier):
        options["optim"] = "cdist"  # ONNX Runtime's CDist kernel: 7x faster than the generic graph
    with warnings.catch_warnings():
        # skl2onnx reads SVC.probA_/probB_, which scikit-learn 1.9 flags as deprecated.
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*prob[AB]_")
        model = convert_sklearn(
            Pipeline(steps),
            initial_types=input_types(spec),
            options={id(classifier): options},
            target_opset=TARGET_OPSET,
            **extra,
        )
    return model.SerializeToString()


def parity_gap(pipeline: Pipeline, onnx_probabilities: np.ndarray, frame: pd.DataFrame) -> float:
    """Largest absolute difference between the Pipeline's probabilities and the ONNX model's."""
    return float(np.abs(pipeline.predict_proba(frame) - onnx_probabilities).max())
