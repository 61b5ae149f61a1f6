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


class MalformedXml(InvalidRemittance):
    """A camt.054 document that is not well-formed XML."""

    code = "malformed_xml"


class UnsafeXml(InvalidRemittance):
    """XML refused before anything reads it: DTD, entity declarations, external references, absurd nesting."""

    code = "unsafe_xml"


class DocumentTooLarge(UnsafeXml):
    """A document over the wire contract's size limit, refused before parsing."""

    code = "document_too_large"


class NotCamt054(InvalidRemittance):
    """Well-formed XML that is not a camt.054 notification of a supported version."""

    code = "not_camt054"


class SchemaInvalidDocument(InvalidRemittance):
    """A camt.054 document that the official ISO 20022 XSD refuses."""

    code = "schema_invalid"


class PeriodTooFarAhead(ImplausibleDeclaration):
    """The period lies further in the future than the law allows declaring."""

    code = "far_future_period"


class ImplausibleSalary(ImplausibleDeclaration):
    """The salary exceeds the plausibility limit (usually a unit mistake)."""

    code = "absurd_salary"


class PaymentIdConflict(InvalidRemittance):
    """A payment id already recorded with a different amount, employer or value date: one of the two is wrong,
    and which one is for a person to decide (the recorded payment is left as it is)."""

    code = "payment_id_conflict"


class CreditsRefused(InvalidRemittance):
    """Some credits of a camt.054 document could not be taken (the others were): the document goes to the DLQ
    so that the refused ones are seen; replaying it re-applies nothing that was already taken."""

    code = "credits_refused"


class ReleaseNotCovered(CollectionError):
    """A downward revision would give back more than the payments recorded on the obligation paid: the payment
    history and the obligation disagree (older data, or a bug), and inventing credit is worse than stopping the
    declaration: it goes to the DLQ for an operator to look at, and the rest of its batch is committed."""

    code = "release_not_covered"


class SuspenseError(CollectionError):
    """An operator's request about an unidentified receipt that cannot be carried out as asked."""

    code = "suspense"


class ReceiptNotFound(SuspenseError):
    code = "receipt_not_found"


class ReceiptAlreadyAssigned(SuspenseError):
    code = "receipt_already_assigned"


class UnknownEmployer(SuspenseError):
    """An employer collection has never seen (no declaration, no payment): most likely a mistyped code."""

    code = "unknown_employer"
