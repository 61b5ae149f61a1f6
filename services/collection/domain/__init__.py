"""The law of contribution collection, as pure functions over plain data (no I/O, no asyncio)."""
