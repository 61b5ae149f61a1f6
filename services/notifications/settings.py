"""Settings of the notifications service (environment variables prefixed ANSINH_)."""
from ansinh.runtime.settings import ServiceSettings
from services.notifications.delivery.settings import DeliverySettings


class NotificationsSettings(ServiceSettings, DeliverySettings):  # delivery: SMTP, gateway, retries
    service: str = "notifications"
    # Core: send Vietnamese SMS without diacritics (GSM-7: 160/153 characters a part instead of 70/67). Even
    # when off, an SMS whose accented text does not fit two segments goes unaccented.
    sms_unaccented: bool = False
    # Monthly contribution digests: due at the end of the first assessment's business day (None), or this many
    # seconds after it; the sweep looks for due digests every digest_sweep_s seconds.
    digest_delay_s: float | None = None
    digest_sweep_s: float = 60.0
    # A trigger for a participant without a usable contact is kept this long (7 days) and told if a contact
    # arrives meanwhile; 0: not kept (counted without contact, as before). Expired ones go with the sweep.
    keep_triggers_s: float = 7 * 86400.0
