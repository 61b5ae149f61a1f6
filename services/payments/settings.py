"""Settings of the payments service (environment variables prefixed ANSINH_)."""
from ansinh.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    service: str = "payments"
