"""Collection's errors: each says what is wrong in words a payroll vendor or bank can act on."""
from ansinh.runtime.errors import PermanentError


class CollectionError(PermanentError):
    """Base of every refusal by the collection service (the message goes to the DLQ with this text)."""

    code = "rejected"


class ImplausibleDeclaration(CollectionError):
    """A declaration no payroll system should send (far-future period, absurd salary)."""

    code = "implausible"


class NoLawForPeriod(CollectionError):
    """The law tables do not cover the period declared."""

    code = "no_law_for_period"


class InvalidRemittance(CollectionError):
    """A payment report that cannot be applied (e.g. an unreadable camt.054 document)."""

    code = "invalid_remittance"


class PeriodTooFarAhead(ImplausibleDeclaration):
    """The period lies further in the future than the law allows declaring."""

    code = "far_future_period"


class ImplausibleSalary(ImplausibleDeclaration):
    """The salary exceeds the plausibility limit (usually a unit mistake)."""

    code = "absurd_salary"
