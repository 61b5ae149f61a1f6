"""Pure rules of notifications (no asyncio, asyncpg, faust or Kafka): contacts, SMS encoding, masking, digests."""
