"""Storage through supabase-py's storage client, unchanged: a user's own folder, RLS, signed URLs, limits."""

from __future__ import annotations

import httpx
import pytest
from storage3.exceptions import StorageApiError

from devstack import tokens
from tests.storage.conftest import StorageStack


def test_user_uploads_lists_downloads_and_removes_in_their_folder(storage: StorageStack) -> None:
    bucket = storage.bucket()
    alice = storage.user()
    files = alice.client.storage.from_(bucket)
    path = f"{alice.id}/reports/week-1.txt"

    uploaded = files.upload(path, b"hello storage", {"content-type": "text/plain", "metadata": {"week": 1}})
    assert uploaded.full_path == f"{bucket}/{path}"
    files.upload(f"{alice.id}/photo.png", b"\x89PNG...", {"content-type": "image/png", "cache-control": "60"})

    top = files.list(alice.id)
    assert [(item["name"], item["id"] is None) for item in top] == [("photo.png", False), ("reports", True)]
    png = next(item for item in top if item["name"] == "photo.png")
    assert png["metadata"]["mimetype"] == "image/png" and png["metadata"]["size"] == 7
    assert [item["name"] for item in files.list(f"{alice.id}/reports")] == ["week-1.txt"]
    assert [item["name"] for item in files.list(alice.id, {"search": "pho"})] == ["photo.png"]
    assert [item["name"] for item in files.list(alice.id, {"limit": 1, "offset": 1})] == ["reports"]
    newest_first = files.list(alice.id, {"sortBy": {"column": "name", "order": "desc"}})
    assert [item["name"] for item in newest_first] == ["reports", "photo.png"]

    assert files.download(path) == b"hello storage"
    info = files.info(path)
    assert info["size"] == 13 and info["content_type"] == "text/plain" and info["metadata"] == {"week": 1}
    assert files.exists(path) and not files.exists(f"{alice.id}/missing.txt")

    with pytest.raises(StorageApiError) as duplicate:
        files.upload(path, b"again")
    assert (duplicate.value.status, duplicate.value.code) == ("409", "Duplicate")
    files.upload(path, b"replaced", {"upsert": "true"})
    assert files.download(path) == b"replaced"
    files.update(path, b"updated")
    assert files.download(path) == b"updated"

    files.move(path, f"{alice.id}/reports/week-2.txt")
    files.copy(f"{alice.id}/reports/week-2.txt", f"{alice.id}/reports/week-3.txt")
    assert sorted(i["name"] for i in files.list(f"{alice.id}/reports")) == ["week-2.txt", "week-3.txt"]
    assert files.download(f"{alice.id}/reports/week-3.txt") == b"updated"

    removed = files.remove([f"{alice.id}/reports/week-2.txt", f"{alice.id}/photo.png"])
    assert sorted(r["name"] for r in removed) == [f"{alice.id}/photo.png", f"{alice.id}/reports/week-2.txt"]
    assert [item["name"] for item in files.list(alice.id)] == ["reports"]


def test_range_and_headers_of_a_download(storage: StorageStack) -> None:
    bucket = storage.bucket()
    alice = storage.user()
    path = f"{alice.id}/range.bin"
    alice.client.storage.from_(bucket).upload(path, bytes(range(100)), {"content-type": "application/octet-stream"})
    headers = {"Authorization": f"Bearer {alice.token}", "apikey": storage.stack.anon_key}
    url = f"{storage.storage_url}/object/authenticated/{bucket}/{path}"
    with httpx.Client(timeout=10) as http:
        partial = http.get(url, headers={**headers, "Range": "bytes=10-19"})
        head = http.head(f"{storage.storage_url}/object/{bucket}/{path}", headers=headers)
        attachment = http.get(url, params={"download": "copy.bin"}, headers=headers)
    assert partial.status_code == 206 and partial.content == bytes(range(10, 20))
    assert partial.headers["content-range"] == "bytes 10-19/100"
    assert head.status_code == 200 and head.headers["content-length"] == "100" and head.content == b""
    assert head.headers["etag"].startswith('"') and head.headers["cache-control"] == "max-age=3600"
    assert attachment.headers["content-disposition"].startswith("attachment; filename*=UTF-8''copy.bin")


def test_another_users_folder_is_refused_by_the_policy(storage: StorageStack) -> None:
    bucket = storage.bucket()
    alice, mallory = storage.user(), storage.user()
    path = f"{alice.id}/secret.txt"
    alice.client.storage.from_(bucket).upload(path, b"alice only")
    theirs = mallory.client.storage.from_(bucket)

    with pytest.raises(StorageApiError) as upload:
        theirs.upload(f"{alice.id}/planted.txt", b"x")
    assert (upload.value.status, upload.value.code) == ("403", "Unauthorized")
    assert upload.value.message == "new row violates row-level security policy"
    with pytest.raises(StorageApiError) as download:
        theirs.download(path)
    assert (download.value.status, download.value.code) == ("404", "not_found")
    with pytest.raises(StorageApiError) as signing:
        theirs.create_signed_url(path, 60)
    assert signing.value.status == "404"
    assert theirs.list(alice.id) == []
    assert theirs.remove([path]) == []  # skipped silently, as storage-api does
    anonymous = storage.client(storage.stack.anon_key).storage.from_(bucket)
    with pytest.raises(StorageApiError):
        anonymous.download(path)
    assert alice.client.storage.from_(bucket).download(path) == b"alice only"

    # The wire: HTTP 400, the real status only in the body (what the clients read).
    with httpx.Client(timeout=10) as http:
        raw = http.get(
            f"{storage.storage_url}/object/{bucket}/{path}",
            headers={"Authorization": f"Bearer {mallory.token}", "apikey": storage.stack.anon_key},
        )
    assert raw.status_code == 400
    assert raw.json() == {"statusCode": "404", "code": "NoSuchKey", "error": "not_found", "message": "Object not found"}


def test_signed_url_works_for_anyone_until_it_expires(storage: StorageStack) -> None:
    bucket = storage.bucket()
    alice = storage.user()
    files = alice.client.storage.from_(bucket)
    files.upload(f"{alice.id}/a.txt", b"shared")
    files.upload(f"{alice.id}/b.txt", b"also shared")
    signed = files.create_signed_url(f"{alice.id}/a.txt", 60)["signedURL"]
    assert signed is not None and signed.startswith(f"{storage.storage_url}/object/sign/{bucket}/")
    many = files.create_signed_urls([f"{alice.id}/b.txt", f"{alice.id}/none.txt"], 60)
    assert many[0]["error"] is None and many[1]["signedURL"] is None

    with httpx.Client(timeout=10) as anyone:  # no apikey, no Authorization
        assert anyone.get(signed).content == b"shared"
        assert anyone.get(str(many[0]["signedURL"])).content == b"also shared"
        expired = tokens.encode(
            {"url": f"{bucket}/{alice.id}/a.txt", "iat": tokens.now() - 120, "exp": tokens.now() - 60},
            storage.stack.jwt_secret,
        )
        refused = anyone.get(f"{storage.storage_url}/object/sign/{bucket}/{alice.id}/a.txt", params={"token": expired})
        other = anyone.get(f"{storage.storage_url}/object/sign/{bucket}/{alice.id}/b.txt?{signed.split('?')[1]}")
    assert refused.json()["message"] == "jwt expired" and refused.json()["statusCode"] == "400"
    assert other.json()["code"] == "InvalidSignature"


def test_signed_upload_url(storage: StorageStack) -> None:
    bucket = storage.bucket()
    alice = storage.user()
    files = alice.client.storage.from_(bucket)
    signed = files.create_signed_upload_url(f"{alice.id}/via-link.txt")
    anonymous = storage.client(storage.stack.anon_key).storage.from_(bucket)
    anonymous.upload_to_signed_url(signed["path"], signed["token"], b"uploaded through a link")
    assert files.download(f"{alice.id}/via-link.txt") == b"uploaded through a link"
    with pytest.raises(StorageApiError) as refused:
        storage.user().client.storage.from_(bucket).create_signed_upload_url(f"{alice.id}/other.txt")
    assert refused.value.status == "403"


def test_bucket_limits_are_refused_with_the_real_status(storage: StorageStack) -> None:
    bucket = storage.bucket(limit=1024, mimes=["image/*", "text/plain"])
    alice = storage.user()
    files = alice.client.storage.from_(bucket)
    files.upload(f"{alice.id}/small.png", b"x" * 1024, {"content-type": "image/png"})
    files.upload(f"{alice.id}/note.txt", b"plain", {"content-type": "text/plain"})
    with pytest.raises(StorageApiError) as large:
        files.upload(f"{alice.id}/large.png", b"x" * 1025, {"content-type": "image/png"})
    assert (large.value.status, large.value.code) == ("413", "Payload too large")
    with pytest.raises(StorageApiError) as mime:
        files.upload(f"{alice.id}/doc.pdf", b"%PDF", {"content-type": "application/pdf"})
    assert (mime.value.status, mime.value.code) == ("415", "invalid_mime_type")
    with pytest.raises(StorageApiError) as charset:  # the clients' default type is not `text/plain`
        files.upload(f"{alice.id}/default.txt", b"x")
    assert charset.value.message == "mime type text/plain;charset=UTF-8 is not supported"
    assert [item["name"] for item in files.list(alice.id)] == ["note.txt", "small.png"]
