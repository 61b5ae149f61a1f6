"""``ansinh``: everything an operator does, from one command (the composition root: operator commands
live in ``ansinh.ops``, the local platform and the demo in ``ansinh.devplatform``, imported only when used).

    ansinh platform up|down|status     the local Kafka (KRaft) and PostgreSQL
    ansinh topics create|list          the topic catalogue, DLQ twins included
    ansinh provision [SERVICE ...]     roles, schemas and grants, with the admin URL (operator step)
    ansinh migrate [SERVICE ...]       apply each service's migrations as its own role
    ansinh run SERVICE                 run one service in the foreground
    ansinh services start|stop|status  all four services in the background
    ansinh outbox flush SERVICE        publish a service's pending outbox events
    ansinh outbox relay SERVICE        run a service's outbox relay as its own process
    ansinh dlq show|replay TOPIC       a topic's dead letters, with reasons; replay after a fix
    ansinh suspense list|assign        unidentified receipts; assign one to an employer (audited)
    ansinh notifications failed|replay|history  notifications given up or uncertain; send again (audited)
    ansinh arrears run|overdue|statement  the daily arrears run for a date (audited), late employers, a statement
    ansinh payments prepare|approve|show|history  monthly payment runs (maker-checker, audited), a person's payments
    ansinh schemas generate|check      JSON Schemas and the AsyncAPI document
    ansinh demo                        bring everything up and show it working
"""
from __future__ import annotations

import argparse
import asyncio
import sys

from rich.console import Console
from rich.table import Table

from ansinh.runtime.settings import SERVICES, PlatformSettings, ServiceSettings

console = Console(width=None if sys.stdout.isatty() else 120)


def _devplatform(module: str):
    """A module of the local development platform, which the service image leaves out on purpose."""
    import importlib

    try:
        return importlib.import_module(f"ansinh.devplatform.{module}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("ansinh.devplatform"):
            console.print("[red]the local development platform is not part of this installation[/] (the service "
                          "image carries the runtime and the operator tools only); run it from a checkout: ./run")
            raise SystemExit(2) from exc
        raise


def cmd_platform(args: argparse.Namespace) -> int:
    return getattr(_devplatform("platform"), args.action)(console)


def cmd_topics(args: argparse.Namespace) -> int:
    from ansinh.ops.topics import ensure_topics, list_topics

    settings = PlatformSettings()
    if args.action == "create":
        created = asyncio.run(ensure_topics(settings.kafka_bootstrap, settings.topic_prefix))
        console.print(f"created {len(created)} topics" + (": " + ", ".join(created) if created else ""))
    else:
        for name in asyncio.run(list_topics(settings.kafka_bootstrap)):
            console.print(name)
    return 0


def _local_password(service: str) -> str | None:
    """The local platform's generated password of ``service``, if this checkout has one."""
    from ansinh.ops.credentials import LocalSecrets

    local = LocalSecrets(PlatformSettings().state_dir)
    return local.db_password(service) if local.exists() else None


def _local_credentials(service: str) -> dict[str, str]:
    """On the local platform, the variables that give ``service`` its own role's credentials (none if the
    environment already has them, or if this checkout has no generated passwords)."""
    import os

    from ansinh.ops.credentials import role_of

    password = _local_password(service)
    if os.environ.get("ANSINH_DB_URL") or os.environ.get("ANSINH_DB_PASSWORD") or not password:
        return {}
    if any(os.environ.get(f"ANSINH_DB_{part}") for part in ("HOST", "PORT", "NAME")):
        return {"ANSINH_DB_PASSWORD": password}  # the database is given: only the password is missing
    return {"ANSINH_DB_URL": PlatformSettings().url_for(role_of(service), password)}


def _service_settings(service: str) -> ServiceSettings:
    """A service's settings from the environment; on the local platform, with its generated password."""
    local = {k.removeprefix("ANSINH_").lower(): v for k, v in _local_credentials(service).items()}
    return ServiceSettings(service=service, **local)


def cmd_provision(args: argparse.Namespace) -> int:
    import os

    from ansinh.ops.credentials import LocalSecrets, password_env
    from ansinh.ops.provision import ProvisionError, check_password, provision_all

    settings = PlatformSettings()
    # ANSINH_<SERVICE>_DB_PASSWORD when the operator gives it; on the local cluster (no DATABASE_URL), the
    # local platform's generated passwords; anywhere else a missing password is an error.
    local = LocalSecrets(settings.state_dir) if "DATABASE_URL" not in os.environ else None
    try:
        passwords = {s: check_password(s, os.environ.get(password_env(s)) or (local and local.db_password(s)))
                     for s in args.services or SERVICES}
    except ProvisionError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    for line in asyncio.run(provision_all(settings.database_url, passwords)):
        console.print(line)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from ansinh.runtime.database import prepare_schema

    for service in args.services or SERVICES:
        applied = asyncio.run(prepare_schema(_service_settings(service)))
        console.print(f"{service}: " + (", ".join(applied) if applied else "up to date"))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import importlib
    import os

    # The service process holds its own role's credentials only, never the admin URL.
    os.environ.update(_local_credentials(args.service))
    os.environ.pop("DATABASE_URL", None)
    sys.argv = [sys.argv[0]]  # faust's Worker parses the command line itself
    importlib.import_module(f"services.{args.service}.app").main()
    return 0


def cmd_services(args: argparse.Namespace) -> int:
    from ansinh.ops.processes import health_table, start_service, stop_service, wait_ready

    settings = PlatformSettings()
    if args.action == "start":
        for service in SERVICES:
            start_service(settings, service)
    elif args.action == "stop":
        for service in SERVICES:
            stop_service(settings, service)
        return 0
    with console.status("Waiting for the services to be ready..."):
        status = wait_ready(timeout=120 if args.action == "start" else 3)
    console.print(health_table(status))
    return 0 if all(status.values()) else 1


def cmd_outbox(args: argparse.Namespace) -> int:
    from ansinh.runtime.service import flush_outbox, run_relay

    if args.action == "relay":
        asyncio.run(run_relay(_service_settings(args.service)))
        return 0
    flushed = asyncio.run(flush_outbox(_service_settings(args.service)))
    if flushed.active_relay:  # one relay per schema: the active one is publishing the outbox
        console.print(f"{args.service}: a relay is active ({flushed.active_relay}) and publishes the outbox; "
                      "nothing flushed here")
    else:
        console.print(f"{args.service}: published {flushed.published} pending outbox events")
    return 0


def cmd_dlq(args: argparse.Namespace) -> int:
    from ansinh.ops.dlq_admin import read_dead_letters, replay

    settings = PlatformSettings()
    dlq = settings.topic(args.topic.removesuffix(".dlq") + ".dlq")
    letters = asyncio.run(read_dead_letters(settings.kafka_bootstrap, dlq, args.from_offset, args.limit))
    if args.action == "show":
        table = Table("offset", "key", "error", "reason", "failed at", title=f"{dlq}: {len(letters)} shown")
        for letter in letters:
            table.add_row(str(letter.offset), (letter.key or b"").decode(errors="replace"), letter.error_class,
                          letter.reason, letter.headers.get("dlq.failed_at", ""))
        console.print(table)
        return 0
    replayed = asyncio.run(replay(settings.kafka_bootstrap, dlq, letters))
    console.print(f"replayed {replayed} messages from {dlq} to their source topic")
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    from schemas import generate

    return generate.main(["--check"] if args.action == "check" else [])


def cmd_notifications(args: argparse.Namespace) -> int:
    from ansinh.ops import notifications

    return notifications.run(args, console)


def cmd_suspense(args: argparse.Namespace) -> int:
    from ansinh.ops.suspense import Client, SuspenseError

    try:
        client = Client.from_environment()
        if args.action == "list":
            answer = client.receipts(args.status)
        else:
            if args.receipt_id is None or args.employer_code is None or not (args.reason or "").strip():
                console.print("[red]✗ usage: ansinh suspense assign ID EMPLOYER --reason \"why\"[/]")
                return 2
            answer = client.assign(args.receipt_id, args.employer_code, args.reason)
    except SuspenseError as exc:
        console.print(f"[red]✗ {exc}[/]")
        return 1
    if args.action == "assign":
        console.print(f"receipt {answer['id']} ({answer['payment_id']}, {answer['amount']:,} VND, value date "
                      f"{answer['value_date']}) assigned to {answer['employer_code']}: {answer['allocated']:,} VND "
                      f"allocated, credit balance {answer['credit_balance']:,} VND")
        return 0
    table = Table("id", "bank", "reference", "amount (VND)", "value date", "reason",
                  title=f"suspense ({answer['status']}): {answer['count']} receipts, {answer['total_vnd']:,} VND")
    for r in answer["receipts"]:
        table.add_row(str(r["id"]), r["bank_bin"] or "", r["bank_reference"], f"{r['amount']:,}", r["value_date"],
                      r["reason"] + (f" -> {r['assigned_to']}" if r.get("assigned_to") else ""))
    console.print(table)
    return 0


def cmd_arrears(args: argparse.Namespace) -> int:
    from ansinh.ops.arrears import command

    return command(args, console)


def cmd_payments(args: argparse.Namespace) -> int:
    from ansinh.ops import payments

    return payments.run(args, console)


def cmd_demo(args: argparse.Namespace) -> int:
    return _devplatform("demo").run_demo(console, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ansinh", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("platform", help="the local Kafka and PostgreSQL")
    p.add_argument("action", choices=["up", "down", "status"])
    p.set_defaults(func=cmd_platform)
    p = sub.add_parser("topics", help="create or list topics")
    p.add_argument("action", choices=["create", "list"])
    p.set_defaults(func=cmd_topics)
    p = sub.add_parser("provision", help="create each service's role, schema and grants (admin URL)")
    p.add_argument("services", nargs="*", metavar="SERVICE", help=", ".join(SERVICES))
    p.set_defaults(func=cmd_provision)
    p = sub.add_parser("migrate", help="apply migrations")
    p.add_argument("services", nargs="*", metavar="SERVICE", help=", ".join(SERVICES))
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("run", help="run one service in the foreground")
    p.add_argument("service", choices=SERVICES)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("services", help="all services in the background")
    p.add_argument("action", choices=["start", "stop", "status"])
    p.set_defaults(func=cmd_services)
    p = sub.add_parser("outbox", help="publish a service's pending outbox events now")
    p.add_argument("action", choices=["flush", "relay"])
    p.add_argument("service", choices=SERVICES)
    p.set_defaults(func=cmd_outbox)
    p = sub.add_parser("dlq", help="show or replay a topic's dead letters")
    p.add_argument("action", choices=["show", "replay"])
    p.add_argument("topic", help="the source topic, e.g. collection.declarations")
    p.add_argument("--from-offset", type=int, default=0, help="start at this DLQ offset")
    p.add_argument("--limit", type=int, default=1000)
    p.set_defaults(func=cmd_dlq)
    p = sub.add_parser("suspense", help="unidentified receipts: list, or assign one to an employer (token: "
                       "ANSINH_OPERATOR_TOKEN)")
    p.add_argument("action", choices=["list", "assign"])
    p.add_argument("receipt_id", nargs="?", type=int, metavar="ID")
    p.add_argument("employer_code", nargs="?", metavar="EMPLOYER")
    p.add_argument("--reason", help="why the receipt belongs to the employer (required to assign; audited)")
    p.add_argument("--status", choices=["open", "assigned", "all"], default="open", help="which receipts to list")
    p.set_defaults(func=cmd_suspense)
    p = sub.add_parser("notifications", help="notifications given up or uncertain: list, replay (audited), a "
                       "participant's history (token: ANSINH_OPERATOR_TOKEN)")
    from ansinh.ops.notifications import add_arguments as notifications_arguments

    notifications_arguments(p)
    p.set_defaults(func=cmd_notifications)
    p = sub.add_parser("arrears", help="arrears: run the daily run for a date, late employers, a statement "
                       "(token: ANSINH_OPERATOR_TOKEN)")
    p.add_argument("action", choices=["run", "overdue", "statement"])
    p.add_argument("employer", nargs="?", metavar="EMPLOYER", help="statement: the employer unit code")
    p.add_argument("--date", help="run: the business date YYYY-MM-DD (Asia/Ho_Chi_Minh)")
    p.add_argument("--reason", default="operator run from the CLI", help="run: why (audited)")
    p.add_argument("--days", type=int, default=30, help="overdue: late more than this many days")
    p.add_argument("--csv", action="store_true", help="overdue: the public list as CSV on stdout")
    p.add_argument("--limit", type=int, default=1000, help="overdue: at most this many employers")
    p.add_argument("--as-of", dest="as_of", help="overdue, statement: as of this date (default: today)")
    p.set_defaults(func=cmd_arrears)
    p = sub.add_parser("payments", help="payment runs: prepare, approve (another operator), show; a beneficiary's "
                       "history (token: ANSINH_OPERATOR_TOKEN)")
    from ansinh.ops.payments import add_arguments as payments_arguments

    payments_arguments(p)
    p.set_defaults(func=cmd_payments)
    p = sub.add_parser("schemas", help="generate or check contract files")
    p.add_argument("action", choices=["generate", "check"])
    p.set_defaults(func=cmd_schemas)
    p = sub.add_parser("demo", help="bring the platform up and play a national month in miniature, cross-checked")
    p.add_argument("--employers", type=int, help="employers (default 200)")
    p.add_argument("--workers", type=int, help="workers, spread over the employers (default 5,000)")
    p.add_argument("--beneficiaries", type=int, help="pensioners and other beneficiaries (default 1,000)")
    p.add_argument("--months", type=int, help="contribution months played, and benefit months paid (default 3)")
    p.add_argument("--seed", type=int, help="the same seed gives the same month (default 2026)")
    p.add_argument("--national", action="store_true", help="a bigger preset, about ten minutes here")
    p.add_argument("--stop", action="store_true", help="stop the services afterwards (default: leave them running)")
    p.set_defaults(func=cmd_demo)
    args = parser.parse_args(argv)
    from ansinh.ops.procs import PortTaken

    try:
        return args.func(args)
    except PortTaken as exc:  # another process on one of our ports: say who, and how to choose another
        console.print(f"[red]✗ {exc}[/]")
        return 1


if __name__ == "__main__":
    sys.exit(main())
