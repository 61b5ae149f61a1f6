"""Tables of fuzz outcomes: one row per topic and service, then dead letters per error class and reason."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tests.fuzz.runner import Outcome


def summary(outcomes: list[Outcome]) -> Table:
    table = Table(title="fuzz: every message accounted for")
    for col in ("topic", "service", "sent", "bad", "good", "dead-lettered", "processed", "refused (domain)",
                "good→DLQ", "bad missing", "dup DLQ", "personal data in reason", "/ready failures", "exited", "seconds"):
        table.add_column(col, justify="left" if col in ("topic", "service") else "right")
    for o in outcomes:
        for a in o.accounts:
            table.add_row(o.topic, a.service, str(a.sent), str(a.bad), str(a.good), str(a.dead_lettered),
                          str(a.processed), str(len(a.refused_by_domain)), str(len(a.good_dead_lettered)),
                          str(len(a.missing_dead_letters)),
                          str(a.duplicates), str(len(a.personal_in_reason)),
                          f"{len([f for f in o.readiness_failures if f[1] == a.service])}/{o.readiness_polls}",
                          str(o.exited.get(a.service, "")), f"{o.duration_s:.1f}")
    return table


def reasons(outcomes: list[Outcome], top: int = 40) -> Table:
    table = Table(title="dead letters by error class and reason")
    for col in ("topic", "service", "error class", "count", "reason (first clause, no values)"):
        table.add_column(col, justify="right" if col == "count" else "left")
    for o in outcomes:
        for a in o.accounts:
            for cls, n in a.by_error_class.most_common():
                table.add_row(o.topic, a.service, cls, str(n), "")
            for reason, n in a.by_reason.most_common(top):
                table.add_row(o.topic, a.service, "", str(n), reason)
    return table


def disagreements(outcomes: list[Outcome]) -> Table:
    table = Table(title="where the models' verdict differs from the published schema or the referee")
    for col in ("topic", "message class", "schema", "referee (schema + domain)", "models (decoder)", "count"):
        table.add_column(col)
    for o in outcomes:
        for (kind, schema, expect, model), n in sorted(o.disagreements.items()):
            table.add_row(o.topic, kind, schema, expect, model, str(n))
    return table


def table_text(outcomes: list[Outcome]) -> str:
    console = Console(width=220, record=True, file=open("/dev/null", "w"))
    for t in (summary(outcomes), reasons(outcomes), disagreements(outcomes)):
        console.print(t)
    for o in outcomes:
        for p in o.problems():
            console.print(f"[red]{o.topic}: {p}[/red]")
    return console.export_text()
