# ruff: noqa: E501  (the catalogue reads best one case per line)
"""The bad-input catalogue, through real HTTP: every case gets a 4xx with a JSON error naming the
problem, the server stays up, and the log shows the client's mistake as one line below ERROR."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from load_tests.server import Server
from tabserve.datasets import BREAST_CANCER
from tests.test_service import CSV_HEADER, EXAMPLE

JSON = {"Content-Type": "application/json"}
ROW = "Biscoe,39.1,18.7,181,3750,male"
#: A breast-cancer sample as the old API took it: 30 numbers in scikit-learn's feature order.
VECTOR = list(BREAST_CANCER.example.values())
SAMPLE = BREAST_CANCER.example
BC = "/breast_cancer"


@dataclass(frozen=True)
class Case:
    id: str
    path: str
    status: int
    needle: str  # must appear in the JSON body's "error"
    request: dict[str, Any] = field(default_factory=dict)


def raw(text: str | bytes, content_type: str = "application/json") -> dict[str, Any]:
    return {"content": text, "headers": {"Content-Type": content_type}}


def upload(data: str | bytes) -> dict[str, Any]:
    return {"files": {"file": ("penguins.csv", data, "text/csv")}}


CATALOGUE = [
    Case("nan", "/predict", 400, "bill_length_mm", raw('{"island": "Biscoe", "bill_length_mm": NaN}')),
    Case("infinity", "/predict", 400, "bill_depth_mm", raw('{"island": "Biscoe", "bill_depth_mm": Infinity}')),
    Case("-infinity", "/predict", 400, "body_mass_g", raw('{"island": "Biscoe", "body_mass_g": -Infinity}')),
    Case("1e400", "/predict", 400, "flipper_length_mm", raw('{"island": "Biscoe", "flipper_length_mm": 1e400}')),
    Case("out of range", "/predict", 400, "bill_length_mm", {"json": {**EXAMPLE, "bill_length_mm": 0}}),
    Case("string number", "/predict", 400, "flipper_length_mm", {"json": {**EXAMPLE, "flipper_length_mm": "181"}}),
    Case("boolean number", "/predict", 400, "body_mass_g", {"json": {**EXAMPLE, "body_mass_g": True}}),
    Case("null island", "/predict", 400, "island", {"json": {**EXAMPLE, "island": None}}),
    Case("missing island", "/predict", 400, "island", {"json": {"bill_length_mm": 39.1}}),
    Case("unknown island", "/predict", 400, "island", {"json": {**EXAMPLE, "island": "Atlantis"}}),
    Case("unknown sex", "/predict", 400, "sex", {"json": {**EXAMPLE, "sex": "F"}}),
    Case("extra field", "/predict", 400, "beak_colour", {"json": {**EXAMPLE, "beak_colour": "orange"}}),
    Case("empty body", "/predict", 400, "island", raw("")),
    Case("list for object", "/predict", 400, "object", raw("[]")),
    Case("malformed json", "/predict", 400, "Invalid JSON", raw('{"island": "Biscoe", ')),
    Case("non-utf-8 json", "/predict", 400, "Invalid JSON", raw(b'{"island": "Bis\xff\xfe"}')),
    Case("text/plain", "/predict", 415, "application/json", raw(EXAMPLE.__repr__(), "text/plain")),
    Case("form post", "/predict", 415, "application/json", {"data": {"island": "Biscoe"}}),
    Case("large single", "/predict", 413, "limit", raw(b'{"island": "Biscoe"' + b" " * 70_000 + b"}")),
    Case("batch empty body", "/predict_batch", 400, "penguins", raw("")),
    Case("batch empty list", "/predict_batch", 400, "penguins", {"json": {"penguins": []}}),
    Case("batch bad row", "/predict_batch", 400, "penguins[1].sex", {"json": {"penguins": [EXAMPLE, {**EXAMPLE, "sex": "x"}]}}),
    Case("batch 10,001 rows", "/predict_batch", 400, "at most 10000 rows", {"json": {"penguins": [EXAMPLE] * 10_001}}),
    Case("batch wrong type", "/predict_batch", 415, "application/json", raw('{"penguins": []}', "application/xml")),
    Case("csv bad cell", "/predict_csv", 400, "row 2 (line 3), column 'bill_length_mm'", upload(f"{CSV_HEADER}\n{ROW}\nBiscoe,abc,18.7,181,3750,male\n")),
    Case("csv unknown island", "/predict_csv", 400, "column 'island'", upload(f"{CSV_HEADER}\nAtlantis,39.1,18.7,181,3750,male\n")),
    Case("csv non-utf-8", "/predict_csv", 400, "not UTF-8", upload(f"{CSV_HEADER}\n".encode() + b"Biscoe,39.1,18.7,181,3750,m\xe4le\n")),
    Case("csv empty", "/predict_csv", 400, "empty", upload(b"")),
    Case("csv byte-order mark only", "/predict_csv", 400, "empty", upload(b"\xef\xbb\xbf")),
    Case("csv header only", "/predict_csv", 400, "no data rows", upload(f"{CSV_HEADER}\n")),
    Case("csv no model column", "/predict_csv", 400, "none of the model's columns", upload("colour,size\nred,3\n")),
    Case("csv repeated column", "/predict_csv", 400, "named more than once: id", upload(f"id,id,{CSV_HEADER}\n1,2,{ROW}\n")),
    Case("csv without file", "/predict_csv", 400, "file", {"data": {"other": "x"}, "files": {"nothing": ("a", b"b")}}),
    Case("csv file sent as text", "/predict_csv", 400, "must be file uploads", {"data": {"file": f"{CSV_HEADER}\n{ROW}\n"}, "files": {"other": ("a", b"b")}}),
    Case("csv as json", "/predict_csv", 415, "multipart/form-data", {"json": {"file": ROW}}),
    Case("multipart without boundary", "/predict_csv", 400, "boundary", raw(f"{CSV_HEADER}\n{ROW}\n", "multipart/form-data")),
    Case("malformed multipart", "/predict_csv", 400, "multipart", raw(b"--xyz\r\n[not a header]\r\n\r\nx\r\n--xyz--\r\n", "multipart/form-data; boundary=xyz")),
    Case("select missing field", "/select_model", 400, "model", {"json": {}}),
    Case("bc too few features", f"{BC}/predict", 400, "takes 30 numbers", {"json": {"features": VECTOR[:29]}}),
    Case("bc too many features", f"{BC}/predict", 400, "takes 30 numbers", {"json": {"features": [*VECTOR, 1.0]}}),
    Case("bc features and names", f"{BC}/predict", 400, "not both", {"json": {"features": VECTOR, "mean_radius": 1.0}}),
    Case("bc nan", f"{BC}/predict", 400, "mean_radius", raw('{"features": [NaN' + ", 1" * 29 + "]}")),
    Case("bc infinity", f"{BC}/predict", 400, "worst_area", raw('{"worst_area": Infinity}')),
    Case("bc string", f"{BC}/predict", 400, "mean_texture", {"json": {**SAMPLE, "mean_texture": "10.4"}}),
    Case("bc negative", f"{BC}/predict", 400, "mean_area", {"json": {**SAMPLE, "mean_area": -1.0}}),
    Case("bc absurd", f"{BC}/predict", 400, "mean_radius", {"json": {**SAMPLE, "mean_radius": 1e9}}),
    Case("bc unknown field", f"{BC}/predict", 400, "tumour_size", {"json": {**SAMPLE, "tumour_size": 3}}),
    Case("bc penguin", f"{BC}/predict", 400, "island", {"json": EXAMPLE}),
    Case("bc empty batch", f"{BC}/predict_batch", 400, "rows", {"json": {"rows": []}}),
    Case("bc empty vectors", f"{BC}/predict_batch", 400, "features", {"json": {"features": []}}),
    Case("bc batch short vector", f"{BC}/predict_batch", 400, "takes 30 numbers", {"json": {"features": [VECTOR, VECTOR[:3]]}}),
    Case("bc batch both", f"{BC}/predict_batch", 400, "'rows' (objects) or as 'features'", {"json": {"rows": [SAMPLE], "features": [VECTOR]}}),
    Case("bc batch neither", f"{BC}/predict_batch", 400, "'rows' (objects) or as 'features'", {"json": {}}),
    Case("bc csv penguins", f"{BC}/predict_csv", 400, "none of the model's columns", upload(f"{CSV_HEADER}\n{ROW}\n")),
    Case("bc select a penguin model", f"{BC}/select_model", 404, "belongs to the dataset 'penguins'", {"json": {"model": "penguins_knn"}}),
    Case("select number", "/select_model", 400, "model", {"json": {"model": 3}}),
    Case("select unknown", "/select_model", 404, "xgboost", {"json": {"model": "xgboost"}}),
]  # fmt: skip


def log_since(path, offset: int, contains: str, timeout: float = 5) -> str:
    """The server log written after ``offset``, once it holds ``contains`` (the access-log line)."""
    deadline = time.monotonic() + timeout
    while True:
        with path.open("rb") as stream:
            stream.seek(offset)
            text = stream.read().decode(errors="replace")
        if contains in text or time.monotonic() > deadline:
            return text


def assert_logged_as_a_client_error(text: str) -> None:
    assert "[ERROR]" not in text and "Traceback" not in text, text[-3000:]
    assert "[WARNING]" in text, text[-3000:]


@pytest.mark.parametrize("case", CATALOGUE, ids=[c.id for c in CATALOGUE])
def test_bad_input_is_a_named_4xx_logged_as_one_warning(client, server: Server, case: Case):
    offset = server.log_path.stat().st_size
    response = client.post(case.path, **case.request)
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert case.needle in response.json()["error"]
    assert_logged_as_a_client_error(log_since(server.log_path, offset, f"status={case.status}"))
    assert client.post("/predict", json=EXAMPLE).status_code == 200  # still up and answering


def send_declared_body(url: str, path: str, declared: int, sent: bytes) -> tuple[int, bytes]:
    """POST with a Content-Length of ``declared`` bytes but send only ``sent``; read the answer."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    with socket.create_connection((host, port), timeout=30) as connection:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {declared}\r\n\r\n"
        )
        connection.sendall(head.encode() + sent)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


def test_a_50_mb_body_is_refused_before_it_is_read(client, server: Server):
    offset = server.log_path.stat().st_size
    status, body = send_declared_body(server.url, "/predict_batch", 50 * 2**20, b'{"penguins": [')
    assert status == 413
    assert b"MiB limit" in body
    assert_logged_as_a_client_error(log_since(server.log_path, offset, "status=413"))
    assert client.post("/predict", json=EXAMPLE).status_code == 200


def test_a_50_mb_chunked_body_is_refused_once_it_passes_the_limit(client, server: Server):
    def fifty_megabytes():
        yield b'{"penguins": ['
        for _ in range(50):
            yield b" " * 2**20

    response = client.post("/predict_batch", content=fifty_megabytes(), headers=JSON)
    assert response.status_code == 413
    assert "MiB limit" in response.json()["error"]
    assert client.post("/predict", json=EXAMPLE).status_code == 200
