"""Storage's error bodies: `{statusCode, code, error, message}`, as storage-api renders a StorageBackendError.

storage-api answers HTTP 400 for every error below 500 and puts the real status only in the body's
`statusCode` string; the official clients read the body. The codes and messages are storage-api's.
"""

from __future__ import annotations

import json

from starlette.responses import Response

JSON_TYPE = "application/json; charset=utf-8"


class StorageError(Exception):
    """An error the Storage API answers with a JSON body."""

    def __init__(self, status: int, code: str, message: str, error: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.error = error or code

    def body(self) -> dict[str, str]:
        return {"statusCode": str(self.status), "code": self.code, "error": self.error, "message": self.message}

    def response(self) -> Response:
        wire_status = 500 if self.status >= 500 else 400
        return Response(json.dumps(self.body()), wire_status, media_type=JSON_TYPE)


def no_such_bucket() -> StorageError:
    return StorageError(404, "NoSuchBucket", "Bucket not found", "Bucket not found")


def no_such_key() -> StorageError:
    return StorageError(404, "NoSuchKey", "Object not found", "not_found")


def access_denied(message: str = "Access denied") -> StorageError:
    return StorageError(403, "AccessDenied", message, "Unauthorized")


def rls_denied() -> StorageError:
    return access_denied("new row violates row-level security policy")


def invalid_jwt(message: str) -> StorageError:
    return StorageError(400, "InvalidJWT", message)


def invalid_signature(message: str = "Invalid signature") -> StorageError:
    return StorageError(400, "InvalidSignature", message)


def key_exists() -> StorageError:
    return StorageError(409, "KeyAlreadyExists", "The resource already exists", "Duplicate")


def bucket_exists() -> StorageError:
    return StorageError(409, "BucketAlreadyExists", "The resource already exists", "Duplicate")


def bucket_not_empty() -> StorageError:
    return StorageError(409, "ResourceNotEmpty", "The bucket you tried to delete is not empty")


def invalid_key(key: str) -> StorageError:
    return StorageError(400, "InvalidKey", f"Invalid key: {key}")


def invalid_bucket_name() -> StorageError:
    return StorageError(400, "InvalidBucketName", "Bucket name invalid", "Invalid Input")


def invalid_request(message: str) -> StorageError:
    return StorageError(400, "InvalidRequest", message)


def too_large() -> StorageError:
    return StorageError(413, "EntityTooLarge", "The object exceeded the maximum allowed size", "Payload too large")


def invalid_mime_type(mime: str) -> StorageError:
    return StorageError(415, "InvalidMimeType", f"mime type {mime} is not supported", "invalid_mime_type")


def internal() -> StorageError:
    return StorageError(500, "InternalError", "Internal server error")
