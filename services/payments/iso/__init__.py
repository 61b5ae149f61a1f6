"""ISO 20022 messages with banks: pain.001 out, pain.002 in (official XSDs in xsd/)."""
