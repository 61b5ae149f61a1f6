"""Settings of the notifications service (environment variables prefixed ANSINH_)."""
from ansinh.runtime.settings import ServiceSettings
from services.notifications.delivery.settings import DeliverySettings


class NotificationsSettings(ServiceSettings, DeliverySettings):  # delivery: SMTP, gateway, retries
    service: str = "notifications"
