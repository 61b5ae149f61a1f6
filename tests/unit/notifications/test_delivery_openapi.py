"""The copy of the notifications OpenAPI document kept in the package is the one the code generates."""
import json

from openapi_spec_validator import validate

from services.notifications.http import OPENAPI, build_api


def test_the_kept_document_is_current_and_valid_openapi():
    generated = build_api(None).document()
    validate(generated)
    assert json.loads(OPENAPI.read_text()) == generated, "run: python -m services.notifications.http"


def test_the_personal_history_needs_both_roles_and_replay_its_own():
    paths = build_api(None).document()["paths"]
    history = paths["/participants/{participant_code}/notifications"]["get"]
    replay = paths["/notifications/replay"]["post"]
    assert "notifications:read" in json.dumps(history) and "personal_data:read" in json.dumps(history)
    assert "notifications:replay" in json.dumps(replay)
