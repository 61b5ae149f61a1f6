"""Settings of the payments service (environment variables prefixed ANSINH_)."""
from ansinh.runtime.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    service: str = "payments"
