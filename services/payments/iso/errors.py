"""Refusals of a bank's pain.002 document as a whole (the message goes to the DLQ with this text)."""
from services.payments.domain.errors import PaymentsError


class InvalidStatusReport(PaymentsError):
    """A pain.002 document that cannot be read; no payment's state is changed by it."""

    code = "invalid_status_report"


class MalformedXml(InvalidStatusReport):
    code = "malformed_xml"


class UnsafeXml(InvalidStatusReport):
    """DTDs, entity declarations, external references: refused before anything reads the document."""

    code = "unsafe_xml"


class NotPain002(InvalidStatusReport):
    code = "not_pain002"


class SchemaInvalidDocument(InvalidStatusReport):
    code = "schema_invalid"


class DocumentTooLarge(InvalidStatusReport):
    code = "document_too_large"
