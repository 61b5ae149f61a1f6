"""Wiring of the collection service: settings, law, handlers, agents and HTTP views, created at start-up."""
from __future__ import annotations

import json
import logging

import faust

from ansinh.runtime import auth
from ansinh.runtime.service import ServiceRuntime, build_app, consume, run_worker
from services.collection import http, metrics
from services.collection.domain.law import load_law
from services.collection.handlers import Collection
from services.collection.settings import CollectionSettings

log = logging.getLogger("services.collection")


def create(settings: CollectionSettings | None = None) -> tuple[faust.App, ServiceRuntime]:
    settings = settings or CollectionSettings()
    runtime = ServiceRuntime(settings)
    app = build_app(settings, runtime)
    handlers = Collection(lambda: runtime.pool, load_law(settings.law_file), settings.today)
    # 20 million a month: a bulk topic (see ansinh/bulk.py).
    consume(app, runtime, "collection.declarations", handlers.apply_declarations, bulk=True,
            prepare=handlers.prepare_declarations,
            on_undecodable=lambda e: metrics.DECLARATIONS_REJECTED.labels(e.code).inc())
    consume(app, runtime, "collection.remittances", handlers.handle_remittances)
    _routes(app, runtime, handlers)

    @app.task
    async def money_gauges():
        # Credit and suspense gauges are refreshed by the transactions that change them; once at start-up too,
        # so a restarted service does not report 0 until the next payment.
        await runtime.ready.wait()
        try:
            async with runtime.pool.acquire() as conn:
                await handlers.refresh_gauges(conn)
        except Exception:  # noqa: BLE001 - a gauge is not worth a crash; the next payment refreshes it
            log.warning("could not read the credit and suspense totals at start-up", exc_info=True)
    return app, runtime


def _routes(app: faust.App, runtime: ServiceRuntime, handlers: Collection) -> None:
    @app.page("/workers/{worker_code}/history")
    async def worker_history(web, request, worker_code):
        # Personal data: only for callers holding a token with the role (401 without one, 403 without the role).
        return await _answer(web, runtime, lambda pool, _: http.worker_history(pool, worker_code),
                             request=request, role=auth.PERSONAL_DATA_READ)

    @app.page("/employers/{employer_code}/statement")
    async def employer_statement(web, request, employer_code):
        q = request.query
        return await _answer(web, runtime, lambda pool, _: http.employer_statement(pool, employer_code, q.get("from"),
                                                                                   q.get("to")))

    @app.page("/suspense")
    async def suspense(web, request):
        async def view(pool, principal):
            status = http.suspense_status(request.query.get("status"))
            return http.suspense_list(await handlers.suspense_list(http.SUSPENSE_STATUS[status]), status)
        return await _answer(web, runtime, view, request=request, role=auth.SUSPENSE_READ)

    @app.page("/suspense/{receipt_id}/assign")
    class AssignReceipt(faust.web.View):
        """POST only: an audited operator action."""

        async def post(self, request, receipt_id):
            async def view(pool, principal):
                command = http.assignment(receipt_id, await request.read())  # read only once authorised
                return await handlers.assign_receipt(principal, command)
            return await _answer(self, runtime, view, request=request, role=auth.SUSPENSE_ASSIGN)

    @app.page("/openapi.json")
    async def openapi(web, request):
        return web.json(json.loads(http.OPENAPI.read_text()))


async def _answer(web, runtime: ServiceRuntime, view, request=None, role: str | None = None):
    """Authorise (when ``role``), wait for start-up, run ``view(pool, principal)`` and map refusals to statuses."""
    principal = None
    if role is not None:
        try:
            principal = auth.require(runtime.settings.api_tokens, request.headers, role)
        except auth.AccessDenied as exc:
            return web.json({"error": str(exc)}, status=exc.status)
    if not runtime.ready.is_set():
        return web.json({"error": "starting up; retry in a few seconds"}, status=503)
    try:
        return web.json(await view(runtime.pool, principal))
    except tuple(http.STATUS) as exc:
        status = next(code for kind, code in http.STATUS.items() if isinstance(exc, kind))
        return web.json({"error": str(exc)}, status=status)


def main() -> None:
    app, runtime = create()
    run_worker(app, runtime.settings)
