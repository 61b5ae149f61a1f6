"""The OpenAPI document of arrears' views is generated from the code; the copy in the repository is current,
and each operation says which role it needs. (Pure: no broker or database needed.)"""
from __future__ import annotations

import json
from datetime import date

from openapi_spec_validator import validate

from services.arrears.http import OPENAPI, build


def generated() -> dict:
    return build(runtime=None, law=None, today=date.today, run_day=None).document()


def test_the_committed_document_is_the_generated_one():
    assert json.loads(OPENAPI.read_text()) == generated(), \
        "stale: run `python -m services.arrears.http` and commit services/arrears/openapi.json"


def test_the_document_is_valid_openapi_and_names_the_role_of_every_operation():
    document = generated()
    validate(document)
    roles = {(path, method): op.get("x-roles") for path, ops in document["paths"].items() for method, op in ops.items()}
    assert roles == {("/employers/{employer_code}/arrears", "get"): ["arrears:read"],
                     ("/overdue", "get"): ["arrears:read"],
                     ("/late-payment-ratio", "get"): ["arrears:read"],
                     ("/runs", "get"): ["arrears:read"],
                     ("/runs", "post"): ["arrears:run"]}
    assert "text/csv" in document["paths"]["/overdue"]["get"]["responses"]["200"]["content"]
