"""CSV in, CSV out, with the standard library's csv module and numpy: no pandas in the server.

Cells are validated column by column with the same rules (bounds, allowed values) as the JSON
schema, from the same :class:`DatasetSpec`; columns the model does not use (ids, labels, dates)
ride along untouched, so a dataset's own file can be sent as it is. pandas is left out on purpose:
it adds ~1 s to worker start-up and ~40 MB per worker, and imported lazily by a request thread it
broke concurrent requests (BentoML's type checks found it half-initialised in ``sys.modules``).
"""

from __future__ import annotations

import _csv
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from tabserve.codecs.columns import MISSING_CATEGORY, Columns
from tabserve.datasets import CategoricalFeature, DatasetSpec, NumericFeature
from tabserve.errors import CsvError

#: Cells that mean "missing", whatever their case, after surrounding blanks are stripped: what R
#: (``NA``), pandas and spreadsheets (``NaN``, ``N/A``), JSON and Python (``null``, ``None``) write.
MISSING_TOKENS = ("", "na", "nan", "null", "none", "n/a")

#: The delimiters a file may use; :func:`sniff_delimiter` picks one from the header line.
DELIMITERS = (",", ";", "\t")

#: Put before an output column's name while the input already has a column of that name, e.g.
#: ``predicted_species`` for a file that carries its own ``species``.
OUTPUT_PREFIX = "predicted_"

#: How many header names an error message quotes: enough to spot a wrong file or delimiter.
_SHOWN = 10
_HEADER_LINE = re.compile(r"[\r\n]*([^\r\n]*)")  # blank lines before the header are skipped
_QUOTED = re.compile(r'"[^"]*"')


@dataclass
class CsvTable:
    """A parsed upload: the header and every data row's cells as sent (blank lines skipped)."""

    header: list[str]
    rows: list[list[str]]
    text: str
    delimiter: str
    #: Where each of the model's input columns is in the header (named as declared or by an alias).
    positions: dict[str, int]
    #: No cell needs quoting (the file has no quote character), so rows can be joined back fast.
    plain: bool

    @cached_property
    def grid(self) -> np.ndarray:
        """Every cell, one column per header name: numpy's variable-width strings, so one huge cell
        costs its own size only (a fixed-width array would pad every cell to it)."""
        return np.array(self.rows, dtype=np.dtypes.StringDType())

    def column(self, name: str) -> np.ndarray | None:
        """One column's cells without surrounding blanks, or None if the file has no such column."""
        if name not in self.positions:
            return None
        return np.strings.strip(self.grid[:, self.positions[name]])

    def line_of(self, row: int) -> int:
        """The file line on which data row ``row`` (0-based) ends; only error messages need it."""
        reader = _reader(self.text, self.delimiter)
        seen = -2  # the first non-blank row is the header
        for cells in reader:
            seen += bool(cells)
            if seen == row:
                return reader.line_num
        return row + 2


def read_csv(spec: DatasetSpec, data: bytes) -> CsvTable:
    """Parse ``data``: a header naming at least one model column, then rows (see :data:`MISSING_TOKENS`)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(f"the CSV file is not UTF-8 text (byte {exc.start})") from exc
    if not text.strip():  # after decoding: a byte-order mark alone is empty too
        raise CsvError("the CSV file is empty; send a header row and at least one data row")
    delimiter = sniff_delimiter(text)
    reader = _reader(text, delimiter, strict=True)
    try:
        header = [name.strip() for name in next(row for row in reader if row)]
        rows = [row for row in reader if row]  # [] is a blank line
    except csv.Error as exc:
        raise CsvError(f"the CSV file could not be parsed at line {reader.line_num}: {exc}") from exc
    positions = _check_header(spec, header)
    if not rows:
        raise CsvError("the CSV file has a header but no data rows")
    width = len(header)
    if min(map(len, rows)) != width or max(map(len, rows)) != width:
        table = CsvTable(header, rows, text, delimiter, positions, plain=False)
        for index, row in enumerate(rows):
            if len(row) > width:
                raise CsvError(
                    f"line {table.line_of(index)} has {len(row)} cells but the header names {width} columns"
                )
        rows = [row + [""] * (width - len(row)) for row in rows]  # missing trailing cells are empty
    return CsvTable(header, rows, text, delimiter, positions, plain='"' not in text)


def sniff_delimiter(text: str) -> str:
    """The delimiter of the header line: whichever of comma, semicolon and tab occurs most often
    outside quotes, comma on a tie or when none does (a one-column file). The header alone decides,
    because it is the one line every file has and is never a free-text cell."""
    line = _QUOTED.sub("", _HEADER_LINE.match(text).group(1))
    return max(DELIMITERS, key=line.count)  # max keeps the first of equals: comma


def _reader(text: str, delimiter: str, strict: bool = False) -> _csv.Reader:
    return csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True, strict=strict
    )


def _check_header(spec: DatasetSpec, header: list[str]) -> dict[str, int]:
    """Where each model column is in ``header`` (by its name or an alias); refuse a header that cannot
    be meant for this model. Unknown columns alone are fine: they are passed through."""
    repeated = sorted(name for name, count in Counter(header).items() if count > 1)  # wide files too
    if repeated:
        raise CsvError(f"column(s) named more than once: {', '.join(repeated)}")
    names = spec.column_names
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        column = names.get(name)
        if column is not None and positions.setdefault(column, index) != index:
            raise CsvError(f"column {column!r} is given twice: as {header[positions[column]]!r} and {name!r}")
    if not positions:
        required = {f.name for f in spec.categorical if f.required}
        expected = [
            f"{f.name} (required)" if f.name in required else f.name for f in spec.fields_in_display_order
        ]
        shown = ", ".join(map(repr, header[:_SHOWN])) + (", ..." if len(header) > _SHOWN else "")
        raise CsvError(
            f"the CSV header names none of the model's columns (it has {shown}); "
            f"expected columns are {', '.join(expected)}; other columns are passed through"
        )
    missing = [f.name for f in spec.categorical if f.required and f.name not in positions]
    if missing:
        raise CsvError(f"required column(s) missing: {', '.join(missing)}")
    return positions


def _first(mask: np.ndarray) -> int | None:
    positions = np.flatnonzero(mask)
    return int(positions[0]) if positions.size else None


def _where(table: CsvTable, row: int, column: str) -> str:
    # Row numbers count data rows from 1; the header is line 1 of the file.
    return f"row {row + 1} (line {table.line_of(row)}), column {column!r}"


def _numeric(table: CsvTable, feature: NumericFeature) -> np.ndarray:
    cells = table.column(feature.name)
    if cells is None:
        return np.full(len(table.rows), np.nan)
    present = ~_missing(cells)
    filled = np.where(present, cells, "nan")
    try:
        values = filled.astype(np.float64)
    except ValueError:  # some cell is not a number: find it
        values = np.array([_to_float(str(cell)) for cell in filled], dtype=np.float64)
    not_number = present & ~np.isfinite(values)
    if (row := _first(not_number)) is not None:
        raise CsvError(f"{_where(table, row, feature.name)}: {str(cells[row])!r} is not a finite number")
    out_of_range = present & ((values < feature.minimum) | (values > feature.maximum))
    if (row := _first(out_of_range)) is not None:
        raise CsvError(
            f"{_where(table, row, feature.name)}: {cells[row]} is outside "
            f"{feature.minimum:g} to {feature.maximum:g}"
        )
    return values


def _to_float(cell: str) -> float:
    """A cell as a number, infinity when it is not one (the caller reports it)."""
    try:
        return float(cell)
    except ValueError:
        return np.inf


def _missing(cells: np.ndarray) -> np.ndarray:
    """Which cells are :data:`MISSING_TOKENS`. Every token is empty or starts with n/N, so only such
    cells are lowercased and compared: a column of numbers costs three quick scans, not a lowercase
    copy of every cell."""
    maybe = np.flatnonzero(
        (cells == "") | np.strings.startswith(cells, "n") | np.strings.startswith(cells, "N")
    )
    missing = np.zeros(len(cells), dtype=bool)
    if maybe.size:
        tokens = np.array(MISSING_TOKENS, dtype=cells.dtype)
        missing[maybe] = np.isin(np.strings.lower(cells[maybe]), tokens)
    return missing


def _categorical(table: CsvTable, feature: CategoricalFeature) -> np.ndarray:
    cells = table.column(feature.name)
    if cells is None:
        return np.full(len(table.rows), MISSING_CATEGORY, dtype=object)
    present = ~_missing(cells)
    if feature.required and (row := _first(~present)) is not None:
        raise CsvError(f"{_where(table, row, feature.name)}: a value is required")
    invalid = present & ~np.isin(cells, np.array(feature.values, dtype=cells.dtype))
    if (row := _first(invalid)) is not None:
        allowed = ", ".join(feature.values)
        raise CsvError(f"{_where(table, row, feature.name)}: {str(cells[row])!r} is not one of {allowed}")
    return np.where(present, cells, MISSING_CATEGORY).astype(object)


def validated_columns(spec: DatasetSpec, table: CsvTable) -> Columns:
    """The Pipeline's input columns for a parsed CSV, or :class:`CsvError` at the first bad cell."""
    columns: Columns = {}
    for feature in spec.numeric:
        columns[feature.name] = _numeric(table, feature)
    for feature in spec.categorical:
        columns[feature.name] = _categorical(table, feature)
    return {name: columns[name] for name in spec.input_columns}


def output_columns(spec: DatasetSpec, classes: tuple[str, ...], header: list[str]) -> list[str]:
    """The names of the appended columns: the target, ``confidence`` and ``probability_<class>``,
    each prefixed with :data:`OUTPUT_PREFIX` (again, until free) where the input already has it,
    so the input's own columns, e.g. a ``species`` label, come back unchanged and unambiguous."""
    taken = set(header)
    names = []
    for name in (spec.target, "confidence", *(f"probability_{name}" for name in classes)):
        while name in taken:
            name = OUTPUT_PREFIX + name
        taken.add(name)
        names.append(name)
    return names


def predictions_csv(
    spec: DatasetSpec, classes: tuple[str, ...], table: CsvTable, probabilities: np.ndarray
) -> str:
    """The input rows as sent, with the predicted class, its confidence and every probability, in
    the input's delimiter (``probabilities`` has one column per class, in the order of ``classes``)."""
    out = io.StringIO()
    delimiter = table.delimiter
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow([*table.header, *output_columns(spec, classes, table.header)])
    best = probabilities.argmax(axis=1).tolist()
    scores = probabilities.tolist()
    if table.plain and all(_plain(name, delimiter) for name in classes):
        # Nothing needs quoting: join the cells as they came (twice as fast as csv.writer).
        out.writelines(
            f"{delimiter.join(row)}{delimiter}{classes[index]}{delimiter}{row_scores[index]!r}"
            f"{delimiter}{delimiter.join(map(repr, row_scores))}\n"
            for row, index, row_scores in zip(table.rows, best, scores, strict=True)
        )
    else:
        writer.writerows(
            [*row, classes[index], row_scores[index], *row_scores]
            for row, index, row_scores in zip(table.rows, best, scores, strict=True)
        )
    return out.getvalue()


def _plain(cell: str, delimiter: str) -> bool:
    return not any(character in cell for character in f'{delimiter}"\r\n')
