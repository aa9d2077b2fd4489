"""storage: the content-addressed, write-once blob store: keys and streams, not paths.

``base`` holds the interface every backend implements (:class:`BlobStore`) and
``filesystem`` the local backend; an S3-compatible backend goes beside it.
"""

from storage.blobs.base import CHUNK, BlobStore, StagedBlob, StoredFile, check_key, sha256_of
from storage.blobs.filesystem import FilesystemBlobStore

__all__ = [
    "CHUNK",
    "BlobStore",
    "FilesystemBlobStore",
    "StagedBlob",
    "StoredFile",
    "check_key",
    "sha256_of",
]
