"""storage-js (supabase-js) against /storage/v1: runs tests/js/storage.test.mjs with Node against the stack."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from devstack.settings import REPO_ROOT
from tests.storage.conftest import StorageStack

NODE = shutil.which("node")
JS_DIR = REPO_ROOT / "tests" / "js"


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed; the supabase-js tests need node >= 20")
def test_storage_js(storage: StorageStack) -> None:
    assert NODE is not None
    if not (JS_DIR / "node_modules" / "@supabase" / "supabase-js").is_dir():
        pytest.fail("tests/js/node_modules is missing: run `make test` (it installs the supabase-js test packages)")
    env = {
        **os.environ,
        "SUPABASE_URL": storage.stack.api_url,
        "SUPABASE_ANON_KEY": storage.stack.anon_key,
        "BUCKET": storage.bucket(),
    }
    result = subprocess.run(
        [NODE, str(JS_DIR / "storage.test.mjs")], env=env, capture_output=True, text=True, timeout=90, check=False
    )
    assert result.returncode == 0, f"storage-js flow failed\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert '"step":"done"' in result.stdout
