"""Simulators of the platform's outside parties: employers' payroll systems and their banks, the banks that take
payment orders, Vietnam Post's paying offices, the benefit decision system and the participant registry.

They are real clients of the public contracts (``schemas``) and import no service. Everything is seeded: the same
seed gives the same population, the same month and the same answers. Each simulator keeps its own ledger of what
it sent and what it expects, computed independently of the services, so the demo can cross-check the platform.
"""
