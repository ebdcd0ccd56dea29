"""supabase-js against /rest/v1: runs tests/js/rest.test.mjs with Node against the REST test gateway."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from devstack.settings import REPO_ROOT
from tests.conftest import SETTINGS
from tests.rest.conftest import RestStack, User

NODE = shutil.which("node")
JS_DIR = REPO_ROOT / "tests" / "js"


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed; the supabase-js tests need node >= 20")
@pytest.mark.usefixtures("features")
def test_supabase_js_rest_flows(rest: RestStack, alice: User) -> None:
    assert NODE is not None
    if not (JS_DIR / "node_modules" / "@supabase" / "supabase-js").is_dir():
        pytest.fail("tests/js/node_modules is missing: run `make test` (it installs the supabase-js test packages)")
    env = {
        **os.environ,
        "SUPABASE_URL": rest.api_url,
        "SUPABASE_ANON_KEY": SETTINGS.anon_key,
        "USER_TOKEN": alice.token,
        "FEATURES": "1",  # aggregates and explain enabled by the `features` fixture
    }
    result = subprocess.run(
        [NODE, str(JS_DIR / "rest.test.mjs")], env=env, capture_output=True, text=True, timeout=90, check=False
    )
    assert result.returncode == 0, f"supabase-js flow failed\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert '"step":"done"' in result.stdout
