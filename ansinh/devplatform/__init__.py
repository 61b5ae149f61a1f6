"""The local development platform: Kafka from Maven jars, a local PostgreSQL and Prometheus, the demo."""
