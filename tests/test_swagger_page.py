"""The Swagger page at ``/`` in a real headless Chromium, and the 200 examples it shows.

The browser tests need Debian's ``chromium`` and ``chromium-driver``. Without them they are skipped,
unless TABSERVE_REQUIRE_BROWSER=1 (CI sets it, after scripts/install-browser.sh), in which case they
fail. Each run keeps a screenshot of the page in the session's log folder (its path is printed).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import TypeAdapter
from starlette.testclient import TestClient

import service
from load_tests.server import Server
from tabserve.codecs.schema import ModelInfo, ModelList
from tabserve.http.apis import schemas
from tabserve.http.docs_page import docs_page_app
from tabserve.http.openapi import ServiceDocs
from tabserve.http.routes import Route
from tabserve.http.training import TrainingOutcome

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
#: Long enough for every operation of the page to be in the screenshot.
WINDOW = "1280,1800"

needs_browser = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER) and os.environ.get("TABSERVE_REQUIRE_BROWSER") != "1",
    reason="no chromium and chromedriver (scripts/install-browser.sh installs them on Debian)",
)


def published_document() -> dict[str, Any]:
    """The OpenAPI document as the server publishes it, built without starting one."""
    rewrite = next(
        options["rewrite"]
        for _, options in service.Svc.middlewares
        if isinstance(options.get("rewrite"), ServiceDocs)
    )
    document = json.loads(json.dumps(service.Svc.openapi_spec.asdict()))
    return json.loads(json.dumps(rewrite(document)))  # as served: through JSON


def example_200(document: dict[str, Any], path: str, media_type: str = "application/json") -> Any:
    operation = next(iter(document["paths"][path].values()))
    return operation["responses"]["200"]["content"][media_type]["example"]


def response_type(route: Route) -> TypeAdapter:
    """What a route's 200 JSON body is, as the service declares it."""
    types = schemas(route.spec)
    return TypeAdapter(
        {
            "predict": types.prediction,
            "predict_batch": types.batch_prediction,
            "select_model": ModelInfo,
            "model_info": ModelInfo,
            "models": ModelList,
            "train": TrainingOutcome,  # the finished task's result (/train/get)
        }[route.operation.name]
    )


JSON_ROUTES = [route for route in service.ROUTES if route.operation.name != "predict_csv"]
#: One route prefix per dataset: its examples are the same at the root and under /<dataset>.
DATASET_PREFIXES = {route.spec.name: route.prefix for route in service.ROUTES if route.prefix}


def test_the_page_names_no_other_host_and_escapes_the_title():
    page = TestClient(docs_page_app("Penguins <&> co")).get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>Penguins &lt;&amp;&gt; co</title>" in page.text
    assert "://" not in page.text and "swagger-ui-bundle.js" in page.text


def test_every_200_body_has_an_example():
    """Swagger UI shows the example instead of inventing "additionalProp1" and "string"."""
    document = published_document()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for media_type, media in operation["responses"].get("200", {}).get("content", {}).items():
                assert "example" in media, f"{method.upper()} {path} {media_type}"


@pytest.mark.parametrize("route", JSON_ROUTES, ids=[route.path for route in JSON_ROUTES])
def test_each_json_example_is_exactly_what_the_server_would_send(route: Route):
    example = example_200(
        published_document(), route.task_path("get") if route.operation.task else route.path
    )
    adapter = response_type(route)
    assert adapter.dump_python(adapter.validate_python(example), mode="json") == example


@pytest.mark.parametrize("prefix", sorted(DATASET_PREFIXES.values()))
def test_the_prediction_examples_answer_the_request_examples(prefix: str):
    document = published_document()
    spec = next(route.spec for route in service.ROUTES if route.prefix == prefix)
    prediction = example_200(document, f"{prefix}/predict")
    assert prediction[spec.target] == spec.example_class
    batch = example_200(document, f"{prefix}/predict_batch")
    assert batch["predictions"] == [prediction] and batch["model"] == prediction["model"]
    request = next(iter(document["paths"][f"{prefix}/predict_batch"].values()))["requestBody"]
    assert request["content"]["application/json"]["example"] == {spec.rows_noun: [spec.example]}


def test_the_root_examples_are_the_root_datasets():
    document = published_document()
    for name in ("predict", "predict_batch", "predict_csv", "models", "model_info", "select_model"):
        root = next(iter(document["paths"][f"/{name}"].values()))["responses"]["200"]["content"]
        prefixed = next(iter(document["paths"][f"/penguins/{name}"].values()))["responses"]["200"]["content"]
        assert root == prefixed, name


def test_the_select_model_example_answers_its_request():
    document = published_document()
    for prefix in DATASET_PREFIXES.values():
        operation = document["paths"][f"{prefix}/select_model"]["post"]
        selector = operation["requestBody"]["content"]["application/json"]["example"]["model"]
        assert example_200(document, f"{prefix}/select_model")["algorithm"] == selector
        assert (
            example_200(document, f"{prefix}/model_info")["tag"]
            == example_200(document, f"{prefix}/models")["active"]
        )


@pytest.mark.parametrize("prefix", sorted(DATASET_PREFIXES.values()))
def test_the_csv_example_is_the_request_row_with_predictions(prefix: str):
    spec = next(route.spec for route in service.ROUTES if route.prefix == prefix)
    text = example_200(published_document(), f"{prefix}/predict_csv", "text/csv")
    header, *rows = list(csv.reader(io.StringIO(text)))
    names = [f.name for f in spec.fields_in_display_order]
    assert header == [*names, spec.target, "confidence", *(f"probability_{name}" for name in spec.classes)]
    assert [row[len(names)] for row in rows] == [spec.example_class]


# --- against a real server ------------------------------------------------------------------


@pytest.mark.parametrize("prefix", sorted(DATASET_PREFIXES.values()))
def test_the_examples_are_what_a_trained_model_answers(client: httpx.Client, prefix: str):
    """The labels in the examples are the real model's; model records have the examples' fields."""
    spec = next(route.spec for route in service.ROUTES if route.prefix == prefix)
    document = client.get("/docs.json").json()
    answers = client.post(f"{prefix}/predict_batch", json={spec.rows_noun: [spec.example]}).json()
    example = example_200(document, f"{prefix}/predict_batch")
    assert [a[spec.target] for a in answers["predictions"]] == [
        p[spec.target] for p in example["predictions"]
    ]

    # The CSV example's input columns, uploaded, come back with the example's labels.
    inputs = len(spec.input_columns)
    expected = list(csv.reader(io.StringIO(example_200(document, f"{prefix}/predict_csv", "text/csv"))))
    upload = "".join(",".join(row[:inputs]) + "\n" for row in expected)
    answer = client.post(f"{prefix}/predict_csv", files={"file": ("rows.csv", upload)})
    assert answer.status_code == 200, answer.text
    got = list(csv.reader(io.StringIO(answer.text)))
    assert [row[: inputs + 1] for row in got] == [row[: inputs + 1] for row in expected]
    assert set(got[0]) == set(expected[0])

    info, example = client.get(f"{prefix}/model_info").json(), example_200(document, f"{prefix}/model_info")
    assert set(info) == set(example)
    for part in ("metrics", "training", "serving", "input_schema"):
        assert set(info[part]) == set(example[part]), part
    assert info["input_schema"] == example["input_schema"]
    assert info["training"]["libraries"] == example["training"]["libraries"]
    listing = client.get(f"{prefix}/models").json()
    assert set(listing["models"][0]) == set(example_200(document, f"{prefix}/models")["models"][0])


# --- in a browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium that records every network request and console message."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    assert CHROMIUM and CHROMEDRIVER, "TABSERVE_REQUIRE_BROWSER=1 but chromium or chromedriver is missing"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={WINDOW}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=DriverService(CHROMEDRIVER))
    yield driver
    driver.quit()


def requested_urls(driver: Any) -> list[str]:
    """Every URL the page asked for since the last call (Chrome's DevTools network events)."""
    messages = (json.loads(entry["message"])["message"] for entry in driver.get_log("performance"))
    return [m["params"]["request"]["url"] for m in messages if m["method"] == "Network.requestWillBeSent"]


def keep_screenshot(driver: Any, path: Path) -> None:
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")


def open_page(driver: Any, server: Server) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    for log in ("performance", "browser"):
        driver.get_log(log)  # drop what earlier pages left
    driver.get(f"{server.url}/")
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock"))


@pytest.mark.slow
@needs_browser
def test_the_page_shows_this_service_and_loads_nothing_from_elsewhere(browser, server: Server, logs: Path):
    from selenium.webdriver.common.by import By

    document = httpx.get(f"{server.url}/docs.json").json()
    title = document["info"]["title"]
    open_page(browser, server)
    assert browser.title == title
    heading = browser.find_element(By.CSS_SELECTOR, ".info .title")
    assert heading.is_displayed() and heading.text.startswith(title)
    assert browser.execute_script("return getComputedStyle(arguments[0]).visibility", heading) == "visible"
    rendered = [
        e.get_attribute("data-path") for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    ]
    assert sorted(rendered) == sorted(path for path, item in document["paths"].items() for _ in item)

    own = urlsplit(server.url).netloc
    urls = requested_urls(browser)
    assert f"{server.url}/docs.json" in urls
    elsewhere = [url for url in urls if not url.startswith("data:") and urlsplit(url).netloc != own]
    assert not elsewhere, elsewhere
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
    keep_screenshot(browser, logs / "swagger-page.png")


@pytest.mark.slow
@needs_browser
def test_the_page_shows_a_real_200_example(browser, server: Server, logs: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    open_page(browser, server)
    browser.find_element(By.CSS_SELECTOR, ".opblock-summary-path[data-path='/predict']").click()
    response = WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.CSS_SELECTOR, ".opblock.is-open tr.response[data-code='200']")
    )
    shown = response.find_element(By.CSS_SELECTOR, ".example, .highlight-code").text
    assert '"species": "Adelie"' in shown and "additionalProp" not in shown
    browser.execute_script("arguments[0].scrollIntoView()", response)
    keep_screenshot(browser, logs / "swagger-predict-200.png")
