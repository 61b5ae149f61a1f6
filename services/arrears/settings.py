"""Settings of the arrears service (environment variables prefixed ANSINH_)."""
from ansinh.runtime.settings import ServiceSettings


class ArrearsSettings(ServiceSettings):
    service: str = "arrears"
