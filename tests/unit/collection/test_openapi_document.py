"""Collection's OpenAPI document is generated from its view declarations; the copy in the repository is current."""
import json

from openapi_spec_validator import validate

from services.collection import api, http


def test_the_document_kept_in_the_repository_is_the_one_the_code_generates():
    generated = api.build(runtime=None, handlers=None).document()
    validate(generated)
    assert json.loads(http.OPENAPI.read_text()) == generated, \
        "stale: run `python -m services.collection.api` and commit services/collection/openapi.json"


def test_personal_data_and_operator_actions_need_their_roles():
    paths = api.build(runtime=None, handlers=None).document()["paths"]
    assert paths["/workers/{worker_code}/history"]["get"]["x-roles"] == ["personal_data:read"]
    assert paths["/suspense/{receipt_id}/assign"]["post"]["x-roles"] == ["suspense:assign"]
    assert "security" not in paths["/employers/{employer_code}/statement"]["get"]
