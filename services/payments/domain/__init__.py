"""Pure rules of the payments service (no asyncio, asyncpg, faust or Kafka)."""
