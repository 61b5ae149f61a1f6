"""Operator HTTP views declared once, with their pydantic models and roles; the OpenAPI document is built from them.

A service declares each view on an :class:`Api`, then mounts it on its faust app::

    api = Api("arrears", "1.0.0", runtime, errors={UnknownEmployer: 404, BadRequest: 400})

    class OverdueQuery(BaseModel):
        days: int = Field(30, ge=0, le=3650, description="Late more than this many days")

    @api.get("/overdue", summary="Employers late more than N days, by amount", query=OverdueQuery,
             response=OverdueList, roles=("arrears:read",), tags=("arrears",))
    async def overdue(call: Call) -> OverdueList:
        return await views.overdue(call.pool, call.query.days)

    @api.post("/runs", summary="Run the accrual for a date", body=RunRequest, response=RunResult,
              roles=("arrears:run",))
    async def run(call: Call) -> RunResult:
        ...  # call.principal is the authenticated operator (for the audit row), call.body the validated request

    api.mount(app)   # registers the views and GET /openapi.json (no token needed to read the document)

What every view gets without writing it:

* **Authorisation first.** Each role in ``roles`` is required (401 without a token, 403 without a role), before
  the body is read; ``call.principal`` is the caller.
* **Validation.** Path parameters (``params=``), the query string (``query=``) and a JSON body (``body=``) are
  validated by their models; a refusal is a 400 naming the field and the rule, never echoing the value sent
  (it may be personal data).
* **Refusals.** An exception whose type (or a base) is in ``errors`` becomes that status with ``{"error": str(e)}``,
  plus ``"code"`` when the exception has a ``code`` attribute. Anything else is a 500 that says nothing of it.
* **Start-up.** Until the runtime is ready (pool open, migrations applied) every view answers 503.
* **Responses.** Return the ``response`` model (serialised in JSON mode), a ``dict``/``list``, or :class:`Text`
  (e.g. CSV, declared with ``alternatives={"text/csv": "..."}`` so the document shows it).

The document (OpenAPI 3.1) is generated from the same declarations: paths, parameters with their schemas,
request bodies, responses with ``$ref`` to components, the bearer scheme and the roles each operation needs.
``write_document``/``api.document()`` let a service keep a copy in its package, checked by a test.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from ansinh.runtime import auth

log = logging.getLogger("ansinh.http")

REF_TEMPLATE = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)}")
MAX_BODY_BYTES = 1_000_000


@dataclass(frozen=True)
class Text:
    """A non-JSON answer (CSV, plain text)."""

    body: str
    content_type: str = "text/plain"
    filename: str | None = None


@dataclass
class Call:
    """What a view receives: the pool, the caller, and the validated inputs."""

    pool: Any
    principal: auth.Principal | None
    params: Any
    query: Any
    body: Any
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


View = Callable[[Call], Awaitable[Any]]


@dataclass
class Route:
    method: str
    path: str
    view: View
    summary: str
    response: type[BaseModel] | None
    params: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    roles: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    status: int = 200
    alternatives: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    refusals: tuple[type[Exception], ...] | None = None  # of the Api's errors, those this view raises (None: all)

    @property
    def path_names(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    @property
    def operation_id(self) -> str:
        return self.view.__name__


class Api:
    """The HTTP views of one service and the OpenAPI document that describes them."""

    def __init__(self, title: str, version: str, runtime, *, errors: Mapping[type[Exception], int] | None = None,
                 description: str = ""):
        self.title = title
        self.version = version
        self.description = description
        self.runtime = runtime
        self.errors = dict(errors or {})
        self.routes: list[Route] = []

    # ----------------------------------------------------------------------------------------- declaring views
    def get(self, path: str, **options) -> Callable[[View], View]:
        return self._declare("get", path, **options)

    def post(self, path: str, **options) -> Callable[[View], View]:
        return self._declare("post", path, **options)

    def _declare(self, method: str, path: str, *, summary: str, response: type[BaseModel] | None = None,
                 **options) -> Callable[[View], View]:
        def register(view: View) -> View:
            route = Route(method, path, view, summary, response, **options)
            _check_declaration(route, self.routes, self.errors)
            self.routes.append(route)
            return view
        return register

    # -------------------------------------------------------------------------------------------- answering
    async def respond(self, route: Route, headers: Mapping[str, str], path_params: Mapping[str, str],
                      query: Mapping[str, str], read_body: Callable[[], Awaitable[bytes]]) -> Answer:
        """Authorise, validate, run the view and turn its result (or refusal) into an answer."""
        principal = None
        try:
            for role in route.roles:
                principal = auth.require(self.runtime.settings.api_tokens, headers, role)
        except auth.AccessDenied as exc:
            return _json({"error": str(exc)}, exc.status)
        if not self.runtime.ready.is_set():
            return _json({"error": "starting up; retry in a few seconds"}, 503)
        try:
            params = _validate(route.params, dict(path_params), "path")
            query_model = _validate(route.query, _single_values(query), "query")
            body = None
            if route.body is not None:
                raw = await read_body()
                if len(raw) > MAX_BODY_BYTES:
                    return _json({"error": f"the request body is larger than {MAX_BODY_BYTES} bytes"}, 413)
                body = _validate_json(route.body, raw)
        except _Refused as exc:
            return _json({"error": "invalid request", "problems": exc.problems}, 400)
        call = Call(self.runtime.pool, principal, params, query_model, body, headers)
        try:
            result = await route.view(call)
        except Exception as exc:  # noqa: BLE001 - mapped to a status below, or a 500 that leaks nothing
            status = self._status_of(exc)
            if status is None:
                log.exception("view %s %s failed", route.method.upper(), route.path)
                return _json({"error": "internal error; the service log has the details"}, 500)
            payload = {"error": str(exc)}
            if getattr(exc, "code", None):
                payload["code"] = exc.code
            return _json(payload, status)
        return _answer(result, route.status)

    def _status_of(self, exc: Exception) -> int | None:
        for kind in type(exc).__mro__:
            if kind in self.errors:
                return self.errors[kind]
        return None

    # ---------------------------------------------------------------------------------------------- mounting
    def mount(self, app) -> None:
        """Register every view on the faust app, and ``GET /openapi.json``."""
        import faust  # only where the service is wired: the rest of this module stays importable without faust

        by_path: dict[str, dict[str, Route]] = {}
        for route in self.routes:
            by_path.setdefault(route.path, {})[route.method] = route
        document = self.document()
        for path, methods in by_path.items():
            app.page(path)(_view_class(faust, self, methods))

        @app.page("/openapi.json")
        async def openapi(web, request):
            return web.json(document)

    # -------------------------------------------------------------------------------------------- describing
    def document(self) -> dict:
        """The OpenAPI 3.1 document of every declared view."""
        models = {m for r in self.routes for m in (r.response, r.body) if m is not None}
        components: dict = {}
        if models:
            pairs = [(m, "serialization" if m in {r.response for r in self.routes} else "validation")
                     for m in sorted(models, key=lambda m: m.__name__)]
            _, defs = models_json_schema(pairs, ref_template=REF_TEMPLATE)
            components = defs.get("$defs", {})
        components["Error"] = {"type": "object", "properties": {"error": {"type": "string"},
                                                                "code": {"type": "string"}},
                               "required": ["error"]}
        paths: dict = {}
        for route in self.routes:
            paths.setdefault(_openapi_path(route.path), {})[route.method] = _operation(route, self.errors)
        return {"openapi": "3.1.0",
                "info": {"title": self.title, "version": self.version, "description": self.description},
                "paths": paths,
                "components": {"schemas": components,
                               "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                              "description": "An operator token (ANSINH_API_TOKENS)"}}}}


def write_document(api: Api, path) -> None:
    """Keep a copy of the generated document (for readers of the repository); a test checks it is current."""
    from pathlib import Path

    Path(path).write_text(json.dumps(api.document(), indent=2, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------------------------------- internals
class _Refused(Exception):
    def __init__(self, problems: list[dict]):
        super().__init__("invalid request")
        self.problems = problems


def _problems(error: ValidationError, where: str) -> list[dict]:
    # The value sent is never echoed (it may be a citizen id or an account): only where and which rule.
    return [{"in": where, "field": ".".join(str(p) for p in e["loc"]) or where, "problem": e["msg"]}
            for e in error.errors(include_input=False, include_url=False)]


def _validate(model: type[BaseModel] | None, values: dict, where: str):
    if model is None:
        return None
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise _Refused(_problems(exc, where)) from None


def _validate_json(model: type[BaseModel], raw: bytes):
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise _Refused(_problems(exc, "body")) from None


def _single_values(query: Mapping[str, str]) -> dict:
    # aiohttp's MultiDict: the first value of each name (repeated names are not part of any view's contract)
    return {key: query[key] for key in query.keys()}


def _json(value: Any, status: int) -> Answer:
    return Answer(status, "application/json", json.dumps(value, ensure_ascii=False).encode())


def _answer(result: Any, status: int) -> Answer:
    if isinstance(result, Text):
        headers = {}
        if result.filename:
            headers["Content-Disposition"] = f'attachment; filename="{result.filename}"'
        content_type = result.content_type
        if content_type.startswith("text/") and "charset" not in content_type:
            content_type += "; charset=utf-8"  # Vietnamese names in a CSV must not depend on the reader's guess
        return Answer(status, content_type, result.body.encode(), headers)
    if isinstance(result, BaseModel):
        return Answer(status, "application/json", result.model_dump_json().encode())
    return _json(result, status)


def _check_declaration(route: Route, existing: list[Route], errors: Mapping[type[Exception], int]) -> None:
    if any(r.path == route.path and r.method == route.method for r in existing):
        raise ValueError(f"{route.method.upper()} {route.path} is declared twice")
    if route.refusals is not None and (unknown := [k.__name__ for k in route.refusals if k not in errors]):
        raise ValueError(f"{route.path}: refusals {unknown} have no status in the Api's errors")
    if route.params is not None:
        declared = set(route.params.model_fields)
        if declared != set(route.path_names):
            raise ValueError(f"{route.path}: the params model has {sorted(declared)}, the path {route.path_names}")


def _openapi_path(path: str) -> str:
    return path  # aiohttp and OpenAPI both write parameters as {name}


def _parameters(route: Route) -> list[dict]:
    found = []
    path_schema = route.params.model_json_schema(ref_template=REF_TEMPLATE) if route.params else {}
    for name in route.path_names:
        schema = path_schema.get("properties", {}).get(name, {"type": "string"})
        found.append({"name": name, "in": "path", "required": True, "schema": _plain(schema),
                      **_describe(schema)})
    if route.query is not None:
        schema = route.query.model_json_schema(ref_template=REF_TEMPLATE)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            found.append({"name": name, "in": "query", "required": name in required, "schema": _plain(prop),
                          **_describe(prop)})
    return found


def _describe(schema: dict) -> dict:
    return {"description": schema["description"]} if "description" in schema else {}


def _plain(schema: dict) -> dict:
    return {k: v for k, v in schema.items() if k not in ("title", "description")}


def _refusals(route: Route, errors: Mapping[type[Exception], int]) -> dict[str, str]:
    """The statuses a view may answer for the service's declared refusals (``refusals=`` narrows them to the
    ones the view can raise), each described by the refusals' first docstring lines."""
    kinds = route.refusals if route.refusals is not None else tuple(errors)
    found: dict[str, list[str]] = {}
    for kind in kinds:
        doc = (kind.__doc__ or kind.__name__).strip().splitlines()[0]
        found.setdefault(str(errors[kind]), []).append(f"{kind.__name__}: {doc}")
    return {status: "; ".join(reasons) for status, reasons in found.items()}


def _operation(route: Route, errors: Mapping[type[Exception], int]) -> dict:
    responses: dict = {}
    content: dict = {}
    if route.response is not None:
        content["application/json"] = {"schema": {"$ref": REF_TEMPLATE.format(model=route.response.__name__)}}
    for media, description in route.alternatives.items():
        content[media] = {"schema": {"type": "string", "description": description}}
    responses[str(route.status)] = {"description": route.summary, **({"content": content} if content else {})}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if route.params or route.query or route.body:
        responses["400"] = {"description": "invalid request: the fields and rules that failed", **error}
    if route.roles:
        responses["401"] = {"description": "no valid bearer token", **error}
        responses["403"] = {"description": f"the token lacks a role: {', '.join(route.roles)}", **error}
    for status, description in _refusals(route, errors).items():
        previous = responses.get(status, {}).get("description")
        responses[status] = {"description": f"{previous}; {description}" if previous else description, **error}
    if route.body is not None:
        responses["413"] = {"description": f"the request body is larger than {MAX_BODY_BYTES} bytes", **error}
    responses["500"] = {"description": "an internal error (the service log has the details; nothing is echoed)",
                        **error}
    responses["503"] = {"description": "the service is starting up", **error}
    operation = {"operationId": route.operation_id, "summary": route.summary, "responses": responses}
    if route.description or route.view.__doc__:
        operation["description"] = (route.description or route.view.__doc__ or "").strip()
    if route.tags:
        operation["tags"] = list(route.tags)
    parameters = _parameters(route)
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": REF_TEMPLATE.format(model=route.body.__name__)}}}}
    if route.roles:
        operation["security"] = [{"bearer": []}]
        operation["x-roles"] = list(route.roles)
    return operation


def _view_class(faust, api: Api, methods: Mapping[str, Route]):
    """A faust View answering the declared methods of one path (others get faust's 405)."""

    async def handle(view, request, route: Route, **path_params):
        answer = await api.respond(route, request.headers, path_params, request.query, request.read)
        # The type goes in the headers: aiohttp refuses a charset in its content_type argument.
        return view.bytes(answer.body, status=answer.status,
                          headers={"Content-Type": answer.content_type, **answer.headers})

    namespace = {}
    for method, route in methods.items():
        async def endpoint(self, request, _route=route, **kwargs):
            return await handle(self, request, _route, **kwargs)
        endpoint.__name__ = method
        namespace[method] = endpoint
    return type(f"View_{'_'.join(r.operation_id for r in methods.values())}", (faust.web.View,), namespace)
