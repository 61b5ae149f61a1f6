"""Which running service consumes a fuzzed topic, and how its database shows what it did."""
from __future__ import annotations

from contextlib import asynccontextmanager


from ansinh.runtime.settings import PlatformSettings
from schemas.topics import spec
from tests.fuzz import messages, runner
from tests.fuzz.runner import Consumer, Outcome

# What processing good messages may change in collection's schema (any other table must stay as it was).
COLLECTION_TABLES = frozenset({"inbox", "outbox", "assessments", "obligations", "compliance_flags", "employers",
                               "credit_lots", "remittances", "allocations"})
# What notifications may change while processing good messages (it records contacts, awards, digests, rows,
# triggers kept until a contact arrives).
NOTIFICATIONS_TABLES = frozenset({"inbox", "contacts", "notifications", "awards", "digests", "digest_parts",
                                  "kept_triggers"})
# The business date the collection service runs on during a fuzz run (the referee judges periods by it).
SERVICE_ENV = {"collection": {"ANSINH_BUSINESS_DATE": messages.BUSINESS_DATE.isoformat(),
                              "ANSINH_BATCH_WINDOW_S": "0.05"}}


def consumer(topic: str, name: str, running) -> Consumer:
    if name == "collection":
        identities = runner.assessment_keys if topic == "collection.declarations" else runner.remittance_keys
        return Consumer(name, running.port, running.proc, "collection", topic, identities, runner.identity_of,
                        COLLECTION_TABLES, group_prefix=running.group)
    if name == "notifications":  # real handlers: a good message is claimed in its inbox under the topic's name
        return Consumer(name, running.port, running.proc, name, topic, may_change=NOTIFICATIONS_TABLES,
                        group_prefix=running.group)
    # arrears, payments and notifications act on state the referee does not model (awards, payments sent,
    # contacts): what they processed is read from their inbox, and a good message they refuse on their
    # own rules (stage check) counts as refused; every bad one must still be dead-lettered, never claimed.
    return Consumer(name, running.port, running.proc, name, None, may_change=None, domain_refusals=True,
                    group_prefix=running.group)


async def fuzz_topic(world, topic: str, services: dict, count: int, seed: int, timeout: float | None = None,
                     progress=None) -> Outcome:
    """Fuzz ``topic`` through every running service in ``services`` (name -> RunningService) that consumes it."""
    consumers = [consumer(topic, name, services[name]) for name in spec(topic).consumers if name in services]
    assert consumers, f"none of {sorted(services)} consumes {topic}"
    cases = messages.build(topic, count, seed)
    sentinel = messages.Corpus(topic, seed).valid(len(cases))
    assert sentinel.expect == "good", sentinel
    outcome = await runner.run(world.bootstrap, world.topic(topic), world.database_url, consumers, cases, sentinel,
                               seed, timeout or 60 + count / 20, progress)
    outcome.topic = topic  # tables show the catalogue name, not the run's prefix
    return outcome


@asynccontextmanager
async def private_world(keep: bool = False):
    """What the ``isolated`` test fixture gives, outside pytest: a topic prefix and a fresh database on the
    running local platform, removed afterwards with the service processes started in it (unless ``keep``:
    then the services stop but the topics and database stay, to be looked at)."""
    from tests.conftest import isolated_world

    async with isolated_world(PlatformSettings(), "fuzz", remove=not keep) as world:
        yield world
        if keep:
            print(f"kept: topics {world.prefix}*, database {world.database_url}")
