"""Arrears' errors: one hierarchy, each with a ``code`` (a metric label) and a text that names fields, not values."""
from ansinh.runtime.errors import PermanentError


class ArrearsError(PermanentError):
    """Base of every refusal by the arrears service."""

    code = "rejected"


class NoLawForPeriod(ArrearsError):
    """The law tables do not cover the period (no due-date rule, or no interest rule for its late days)."""

    code = "no_law_for_period"


class InvalidLine(ArrearsError):
    """An assessment or allocation line arrears cannot hold (an amount beyond what a debt can be)."""

    code = "invalid_line"


class RunDateRefused(ArrearsError):
    """An accrual run asked for a business date it must not run for (in the future, or before the last run)."""

    code = "run_date_refused"
