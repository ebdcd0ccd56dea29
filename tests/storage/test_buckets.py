"""Buckets through supabase-py's storage client (service role), public buckets, and the storage schema's guards."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest
from storage3.exceptions import StorageApiError

from tests.storage.conftest import StorageStack


def test_service_role_manages_buckets(storage: StorageStack) -> None:
    admin = storage.service().storage
    name = f"avatars-{uuid.uuid4().hex[:8]}"
    assert admin.create_bucket(name, options={"public": True, "file_size_limit": "1MB"}) == {"name": name}
    bucket = admin.get_bucket(name)
    assert (bucket.public, bucket.file_size_limit, bucket.allowed_mime_types) == (True, 1_000_000, None)
    assert name in [b.id for b in admin.list_buckets()]
    with pytest.raises(StorageApiError) as duplicate:
        admin.create_bucket(name)
    assert (duplicate.value.status, duplicate.value.code) == ("409", "Duplicate")

    admin.update_bucket(name, {"public": True, "allowed_mime_types": ["image/png"], "file_size_limit": 2048})
    assert admin.get_bucket(name).allowed_mime_types == ["image/png"]

    files = admin.from_(name)
    files.upload("u/a.png", b"png", {"content-type": "image/png"})
    public_url = files.get_public_url("u/a.png")
    with httpx.Client(timeout=10) as anyone:
        assert anyone.get(public_url).content == b"png"

    with pytest.raises(StorageApiError) as not_empty:
        admin.delete_bucket(name)
    assert not_empty.value.status == "409"
    on_disk = storage.stack.gateway_log.parent / "data" / "storage" / name  # the gateway's DEVSTACK_DATA_DIR
    assert [p.read_bytes() for p in on_disk.rglob("*") if p.is_file()] == [b"png"]
    assert admin.empty_bucket(name) == {"message": "Successfully emptied"}
    assert files.list("u") == []
    assert [p for p in on_disk.rglob("*") if p.is_file()] == []
    assert admin.delete_bucket(name) == {"message": "Successfully deleted"}
    with pytest.raises(StorageApiError) as gone:
        admin.get_bucket(name)
    assert (gone.value.status, gone.value.code) == ("404", "Bucket not found")


def test_users_cannot_create_buckets_or_see_private_ones(storage: StorageStack) -> None:
    private = storage.bucket()
    user = storage.user().client.storage
    with pytest.raises(StorageApiError) as refused:
        user.create_bucket(f"mine-{uuid.uuid4().hex[:8]}")
    assert refused.value.status == "403"
    assert private not in [b.id for b in user.list_buckets()]  # no policy on storage.buckets: nothing visible
    with httpx.Client(timeout=10) as anyone:
        hidden = anyone.get(f"{storage.storage_url}/object/public/{private}/x.txt")
    assert hidden.json()["statusCode"] == "404"


def test_direct_sql_deletes_are_refused_and_owner_comes_from_the_token(storage: StorageStack) -> None:
    bucket = storage.bucket()
    alice = storage.user()
    alice.client.storage.from_(bucket).upload(f"{alice.id}/kept.txt", b"kept")
    with psycopg.connect(storage.stack.postgres_dsn, autocommit=True) as conn:
        row = conn.execute(
            "select owner::text, owner_id, metadata->>'size' from storage.objects where bucket_id = %s", (bucket,)
        ).fetchone()
        assert row == (alice.id, alice.id, "4")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="Use the Storage API instead"):
            conn.execute("delete from storage.objects where bucket_id = %s", (bucket,))
        helpers = conn.execute(
            "select storage.extension('a/b/c.tar.gz'), storage.filename('a/b/c.txt'), storage.foldername('a/b/c.txt')"
        ).fetchone()
        assert helpers == ("gz", "c.txt", ["a", "b"])
