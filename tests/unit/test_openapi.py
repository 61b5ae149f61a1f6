"""Operator views declared with pydantic models: authorised, validated, described by a generated OpenAPI document."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel, Field

from ansinh.runtime.auth import ApiToken
from ansinh.runtime.openapi import Api, Call, Text

READER = ApiToken(principal="ana", token="r" * 32, roles=["things:read"])
WRITER = ApiToken(principal="binh", token="w" * 32, roles=["things:read", "things:write"])


@dataclass
class _Settings:
    api_tokens: list = field(default_factory=lambda: [READER, WRITER])


@dataclass
class _Runtime:
    settings: _Settings = field(default_factory=_Settings)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    pool: object = "the pool"


class NotFound(Exception):
    code = "thing_not_found"


class ThingPath(BaseModel):
    thing_id: str = Field(pattern=r"^[0-9]{1,9}$", description="The thing's number")


class ThingQuery(BaseModel):
    days: int = Field(30, ge=0, le=3650, description="Late more than this many days")


class Thing(BaseModel):
    thing_id: str
    days: int
    seen_by: str | None


class Rename(BaseModel):
    name: str = Field(min_length=1, max_length=20)


def _api() -> tuple[Api, _Runtime]:
    runtime = _Runtime()
    api = Api("things", "1.0.0", runtime, errors={NotFound: 404})

    @api.get("/things/{thing_id}", summary="One thing", params=ThingPath, query=ThingQuery, response=Thing,
             roles=("things:read",))
    async def thing(call: Call) -> Thing:
        if call.params.thing_id == "404":
            raise NotFound("no such thing")
        if call.params.thing_id == "500":
            raise RuntimeError("secret detail 012345678901")
        return Thing(thing_id=call.params.thing_id, days=call.query.days, seen_by=call.principal.name)

    @api.post("/things/{thing_id}/name", summary="Rename a thing", params=ThingPath, body=Rename,
              response=Thing, roles=("things:write",), refusals=())
    async def rename(call: Call) -> Thing:
        return Thing(thing_id=call.params.thing_id, days=0, seen_by=call.body.name)

    @api.get("/things.csv", summary="Every thing as CSV", alternatives={"text/csv": "one row per thing"})
    async def things_csv(call: Call) -> Text:
        return Text("thing_id\n1\n", "text/csv", filename="things.csv")

    runtime.ready.set()
    return api, runtime


async def _ask(api: Api, path_params: dict, query: dict | None = None, token: str | None = None,
               body: bytes = b"", index: int = 0):
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def read():
        return body
    answer = await api.respond(api.routes[index], headers, path_params, query or {}, read)
    return answer.status, (json.loads(answer.body) if answer.content_type == "application/json" else answer.body)


async def test_a_view_answers_its_model_for_a_caller_with_the_role():
    api, _ = _api()
    status, body = await _ask(api, {"thing_id": "7"}, {"days": "45"}, token=READER.token)
    assert (status, body) == (200, {"thing_id": "7", "days": 45, "seen_by": "ana"})


async def test_a_caller_without_a_token_gets_401_and_without_the_role_403():
    api, _ = _api()
    assert (await _ask(api, {"thing_id": "7"}))[0] == 401
    status, body = await _ask(api, {"thing_id": "7"}, token=READER.token, body=b'{"name": "x"}', index=1)
    assert status == 403 and "things:write" in body["error"]


async def test_invalid_inputs_are_refused_naming_the_field_never_echoing_the_value():
    api, _ = _api()
    status, body = await _ask(api, {"thing_id": "079123456789x"}, {"days": "-1"}, token=READER.token)
    assert status == 400
    assert {(p["in"], p["field"]) for p in body["problems"]} == {("path", "thing_id")}
    assert "079123456789x" not in json.dumps(body)
    status, body = await _ask(api, {"thing_id": "7"}, {"days": "-1"}, token=READER.token)
    assert status == 400 and body["problems"][0]["field"] == "days"
    status, body = await _ask(api, {"thing_id": "7"}, token=WRITER.token, body=b'{"name": ""}', index=1)
    assert status == 400 and body["problems"][0] == {"in": "body", "field": "name",
                                                     "problem": body["problems"][0]["problem"]}


async def test_declared_refusals_get_their_status_and_code_and_other_failures_leak_nothing():
    api, _ = _api()
    assert await _ask(api, {"thing_id": "404"}, token=READER.token) == (
        404, {"error": "no such thing", "code": "thing_not_found"})
    status, body = await _ask(api, {"thing_id": "500"}, token=READER.token)
    assert status == 500 and "012345678901" not in json.dumps(body)


async def test_every_view_answers_503_until_the_service_is_ready():
    api, runtime = _api()
    runtime.ready.clear()
    assert (await _ask(api, {"thing_id": "7"}, token=READER.token))[0] == 503


async def test_a_text_answer_keeps_its_content_type():
    api, _ = _api()
    answer = await api.respond(api.routes[2], {}, {}, {}, None)
    assert (answer.status, answer.content_type, answer.body) == (200, "text/csv; charset=utf-8", b"thing_id\n1\n")
    assert answer.headers["Content-Disposition"] == 'attachment; filename="things.csv"'


def test_the_generated_document_is_valid_openapi_and_describes_each_view():
    api, _ = _api()
    document = api.document()
    validate(document)
    operation = document["paths"]["/things/{thing_id}"]["get"]
    assert operation["x-roles"] == ["things:read"] and operation["security"] == [{"bearer": []}]
    assert {p["name"]: p["in"] for p in operation["parameters"]} == {"thing_id": "path", "days": "query"}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Thing"}
    assert set(operation["responses"]) == {"200", "400", "401", "403", "404", "500", "503"}
    assert "NotFound" in operation["responses"]["404"]["description"]
    rename = document["paths"]["/things/{thing_id}/name"]["post"]["responses"]
    assert "413" in rename and "404" not in rename  # declared: this view refuses nothing of the Api's errors
    assert "Rename" in document["components"]["schemas"]
    assert "text/csv" in document["paths"]["/things.csv"]["get"]["responses"]["200"]["content"]


def test_a_path_declared_twice_or_with_mismatched_params_is_refused_at_declaration():
    api, _ = _api()
    with pytest.raises(ValueError, match="declared twice"):
        api.get("/things/{thing_id}", summary="again", params=ThingPath)(lambda call: None)
    with pytest.raises(ValueError, match="params model"):
        api.get("/other/{other_id}", summary="x", params=ThingPath)(lambda call: None)


async def test_mounted_on_a_faust_app_the_views_answer_over_http(tmp_path):
    import faust
    from aiohttp.test_utils import TestClient, TestServer

    app = faust.App("openapi-mount", web_enabled=True, datadir=str(tmp_path))
    api, _ = _api()
    api.mount(app)
    client = TestClient(TestServer(app.web.web_app))
    await client.start_server()
    try:
        answer = await client.get("/things/7?days=3", headers={"Authorization": f"Bearer {READER.token}"})
        assert (answer.status, await answer.json()) == (200, {"thing_id": "7", "days": 3, "seen_by": "ana"})
        answer = await client.post("/things/7/name", data=b'{"name": "n"}',
                                   headers={"Authorization": f"Bearer {WRITER.token}"})
        assert (answer.status, (await answer.json())["seen_by"]) == (200, "n")
        answer = await client.get("/things.csv")
        assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert (await client.delete("/things/7")).status == 405
        document = await (await client.get("/openapi.json")).json()
        assert document == json.loads(json.dumps(api.document()))
    finally:
        await client.close()
