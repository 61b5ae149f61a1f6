"""Collection's errors: each says what is wrong in words a payroll vendor or bank can act on."""
from ansinh.errors import PermanentError


class CollectionError(PermanentError):
    """Base of every refusal by the collection service (the message goes to the DLQ with this text)."""


class ImplausibleDeclaration(CollectionError):
    """A declaration no payroll system should send (far-future period, absurd salary)."""


class NoLawForPeriod(CollectionError):
    """The law tables do not cover the period declared."""


class InvalidRemittance(CollectionError):
    """A payment report that cannot be applied (e.g. an unreadable camt.054 document)."""
