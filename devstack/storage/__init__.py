"""The devstack's Storage API (storage-api stand-in), mounted by the gateway at /storage/v1.

Buckets and objects live in the `storage` schema; every request runs as the caller's role with its JWT
claims, so the RLS policies on storage.objects decide it, as on Supabase. Bytes are kept on disk under
the devstack's data folder (`.devstack/storage/`).
"""

from __future__ import annotations

from devstack.storage.app import create_storage_app

__all__ = ["create_storage_app"]
