"""The OpenAPI document of payments is generated from the declared views; the copy in the package is current."""
import json

from services.payments import http


def test_the_committed_openapi_document_is_the_one_the_views_generate():
    generated = http.service_api(None, None, None).document()
    assert json.loads(http.OPENAPI.read_text()) == generated, "run: python -m services.payments.http"


def test_preparing_approving_and_reading_a_history_need_their_roles():
    paths = http.service_api(None, None, None).document()["paths"]
    security = {(path, method): json.dumps(op) for path, ops in paths.items() for method, op in ops.items()}
    assert "payments:prepare" in security[("/runs/{period}/prepare", "post")]
    assert "payments:approve" in security[("/runs/{period}/approve", "post")]
    history = security[("/beneficiaries/{beneficiary_code}/payments", "get")]
    assert "payments:read" in history and "personal_data:read" in history
