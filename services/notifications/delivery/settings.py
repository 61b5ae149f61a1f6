"""Delivery settings (environment variables prefixed ANSINH_): where the SMTP server and the gateway are,
who the sender is, and the retry, rate and quiet-hour rules. Credentials have no defaults in code."""
from __future__ import annotations

from datetime import datetime

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.notifications.domain.delivery import QuietHours, RetryPolicy, parse_quiet_hours


class DeliverySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANSINH_", extra="ignore")

    # E-mail: an SMTP relay (the agency's MTA); empty host: e-mail is not sent (its rows wait, counted in the
    # queue depth). smtp_tls: none, starttls, or implicit (port 465).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_tls: str = "none"  # none | starttls | implicit
    smtp_connections: int = 8  # parallel SMTP sessions, each reused for many messages
    smtp_timeout_s: float = 15.0
    mail_from: str = "BHXH ansinh <no-reply@ansinh.localhost>"
    # SMS and app push: the gateway's HTTP API (empty URL: that channel is not sent; its rows wait, counted
    # in the queue depth).
    gateway_sms_url: str = ""
    gateway_push_url: str = ""
    gateway_token: SecretStr = SecretStr("")
    sms_sender: str = "BHXH"
    gateway_connections: int = 64
    gateway_timeout_s: float = 10.0
    # Retries: exponential backoff with full jitter between base and cap; failed after max_attempts.
    delivery_max_attempts: int = 8
    delivery_backoff_base_s: float = 30.0
    delivery_backoff_cap_s: float = 3600.0
    # Sends per second per channel (0: no limit).
    rate_email_per_s: float = 0.0
    rate_sms_per_s: float = 0.0
    rate_push_per_s: float = 0.0
    # SMS quiet hours (Asia/Ho_Chi_Minh) for participants who set none; "" for none.
    sms_quiet_hours: str = "21:00-07:00"
    delivery_batch: int = 1000
    delivery_poll_s: float = 0.2
    # A fixed clock for the dispatcher's quiet hours and due times (tests, replays of a day); None: now.
    delivery_clock: datetime | None = None
    delivery_enabled: bool = True

    @field_validator("smtp_tls")
    @classmethod
    def _tls_mode(cls, value: str) -> str:
        if value not in ("none", "starttls", "implicit"):
            raise ValueError("smtp_tls must be none, starttls or implicit")
        return value

    @field_validator("sms_quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        parse_quiet_hours(value)
        return value

    @property
    def configured_channels(self) -> list[str]:
        """Channels with somewhere to send to."""
        return [c for c, where in (("email", self.smtp_host), ("sms", self.gateway_sms_url),
                                   ("push", self.gateway_push_url)) if where]

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.delivery_max_attempts, self.delivery_backoff_base_s, self.delivery_backoff_cap_s)

    @property
    def default_quiet_hours(self) -> QuietHours:
        return parse_quiet_hours(self.sms_quiet_hours)

    @property
    def rates(self) -> dict[str, float]:
        return {"email": self.rate_email_per_s, "sms": self.rate_sms_per_s, "push": self.rate_push_per_s}
