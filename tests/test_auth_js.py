"""supabase-js against the Auth endpoint: runs tests/js/auth.test.mjs with Node against the stack."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from devstack.settings import REPO_ROOT
from tests.conftest import Stack

NODE = shutil.which("node")
JS_DIR = REPO_ROOT / "tests" / "js"


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed; the supabase-js tests need node >= 20")
def test_supabase_js_auth_flow(stack: Stack) -> None:
    assert NODE is not None
    if not (JS_DIR / "node_modules" / "@supabase" / "supabase-js").is_dir():
        pytest.fail("tests/js/node_modules is missing: run `make test` (it installs the supabase-js test packages)")
    env = {
        **os.environ,
        "SUPABASE_URL": stack.api_url,
        "SUPABASE_ANON_KEY": stack.anon_key,
        "SUPABASE_SERVICE_ROLE_KEY": stack.service_role_key,
    }
    result = subprocess.run(
        [NODE, str(JS_DIR / "auth.test.mjs")], env=env, capture_output=True, text=True, timeout=90, check=False
    )
    assert result.returncode == 0, f"supabase-js flow failed\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert '"step":"done"' in result.stdout
