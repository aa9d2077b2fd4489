"""storage: SQLAlchemy models, the blob store and the hash-chained audit log (no Flask)."""
