"""Settings of the collection service (environment variables prefixed ANSINH_)."""
from ansinh.settings import ServiceSettings


class CollectionSettings(ServiceSettings):
    service: str = "collection"
