"""Async use cases. Each takes its ports (unit of work, blob store, clock) as arguments."""
