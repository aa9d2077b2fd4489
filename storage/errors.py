"""storage: typed errors raised by the storage layer."""


class StorageError(Exception):
    """Base class of storage errors."""


class BlobTooLargeError(StorageError):
    """An incoming blob exceeded the configured size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"blob exceeds the limit of {limit} bytes")
        self.limit = limit


class BlobNotFoundError(StorageError):
    """No blob is stored under that digest."""


class AuditChainError(StorageError):
    """The audit chain head could not be read or extended."""
