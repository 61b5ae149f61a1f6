"""Settings of the notifications service (environment variables prefixed ANSINH_)."""
from ansinh.runtime.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    service: str = "notifications"
