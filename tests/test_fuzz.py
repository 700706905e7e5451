"""Schemathesis fuzzes every operation of the published OpenAPI document against the real server.

Positive and negative cases; no answer may be a 5xx, and every answer must match what the document
says about its status (error bodies included). ``TABSERVE_FUZZ_EXAMPLES`` sets the cases per
operation (default 40); the README shows the longer run.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from load_tests.server import Server
from tests.conftest import ADMIN

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("TABSERVE_FUZZ_EXAMPLES", "40"))


@pytest.fixture(scope="module")
def api_schema(server: Server) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{server.url}/docs.json")
    schema.config.generation.update(max_examples=EXAMPLES, database=":memory:")
    return schema


fuzzed = schemathesis.pytest.from_fixture("api_schema")


@fuzzed.parametrize()
def test_no_server_error_and_every_answer_is_documented(case, server):
    # A valid training submission would start a full-grid training per case: those go without the
    # token (answered 401, as documented); tests/test_train_task.py covers them.
    case.call_and_validate(
        base_url=server.url,
        headers={} if case.path.endswith("/train/submit") else ADMIN,
        timeout=60,
        checks=[not_a_server_error, response_schema_conformance],
    )
