"""Payments' errors: one hierarchy, each with a ``code``; the text names fields and rules, never values of a person."""
from ansinh.runtime.errors import PermanentError


class PaymentsError(PermanentError):
    """Base of every refusal by the payments service (a message goes to the DLQ with this text)."""

    code = "rejected"


# ---- benefits.awards -----------------------------------------------------------------------------------
class AwardError(PaymentsError):
    """An award event that cannot be applied to the entitlements."""

    code = "award_refused"


class UnknownAward(AwardError):
    """A suspension, resumption, termination or channel change for an award payments has never received."""

    code = "unknown_award"


class ImpossibleTransition(AwardError):
    """The event would move an award where it cannot go (e.g. resume a terminated award)."""

    code = "impossible_transition"


class BeneficiaryIsDeceased(ImpossibleTransition):
    """Anything that would pay someone recorded as deceased (an award, a resumption, a new channel)."""

    code = "beneficiary_deceased"


class InvalidAward(AwardError):
    """An award whose own fields contradict each other (last period before the first)."""

    code = "invalid_award"


# ---- payment runs ----------------------------------------------------------------------------------------
class RunError(PaymentsError):
    """An operator's request about a payment run that cannot be carried out as asked."""

    code = "run_refused"


class InvalidPeriod(RunError):
    code = "invalid_period"


class RunNotFound(RunError):
    code = "run_not_found"


class RunNotPrepared(RunError):
    """Approval of a run that is not (or not yet completely) prepared."""

    code = "run_not_prepared"


class RunAlreadyApproved(RunError):
    """A run that is approved can be neither prepared again nor approved twice."""

    code = "run_already_approved"


class PreparerCannotApprove(RunError):
    """Maker-checker: whoever prepared a run may not approve it."""

    code = "preparer_cannot_approve"


class RunChanged(RunError):
    """The run's payments differ from the totals shown at preparation (or from what the approver saw)."""

    code = "run_changed"


class BeneficiaryNotFound(PaymentsError):
    code = "beneficiary_not_found"
