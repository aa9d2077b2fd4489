"""storage: typed errors raised by the storage layer."""


class StorageError(Exception):
    """Base class of storage errors."""


class BlobTooLargeError(StorageError):
    """An incoming blob exceeded the configured size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"blob exceeds the limit of {limit} bytes")
        self.limit = limit


class BlobNotFoundError(StorageError):
    """No blob is stored under that key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no blob is stored under {key[:80]!r}")
        self.key = key


class InvalidBlobKeyError(BlobNotFoundError):
    """A key that is not 64 lower-case hex digits: it names no blob and never a path.

    A subclass of :class:`BlobNotFoundError`, so a reader that handles a missing blob
    handles a forged key alike.
    """


class BlobCorruptError(StorageError):
    """A blob's content no longer hashes to its key (raised by backends that verify
    checksums while reading)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"blob {key} does not match its SHA-256")
        self.key = key


class AuditChainError(StorageError):
    """The audit chain head could not be read or extended."""


class BlobStoreUnavailableError(StorageError, OSError):
    """A remote blob store failed (unreachable, access denied, a server error): an
    :class:`OSError` like a failing disk, so callers handle both alike. The message names
    the operation and the S3 error code, never credentials."""
