"""storage-js (supabase-js) against /storage/v1: runs tests/js/storage.test.mjs with Node against the stack."""

from __future__ import annotations

from tests.node import needs_node, run_script
from tests.storage.conftest import StorageStack


@needs_node
def test_storage_js(storage: StorageStack) -> None:
    env = {"SUPABASE_URL": storage.stack.api_url, "SUPABASE_ANON_KEY": storage.stack.anon_key}
    run_script("storage.test.mjs", {**env, "BUCKET": storage.bucket()})
