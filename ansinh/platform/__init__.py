"""The embedded local platform: a real single-node Kafka (KRaft) and a local PostgreSQL cluster."""
