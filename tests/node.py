"""Running a supabase-js check (tests/js/*.mjs) with Node against a stack: one JSON line per step, "done" last."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from devstack.settings import REPO_ROOT

NODE = shutil.which("node")
JS_DIR = REPO_ROOT / "tests" / "js"
needs_node = pytest.mark.skipif(NODE is None, reason="Node.js is not installed; the supabase-js tests need node >= 20")


def run_script(script: str, env: dict[str, str]) -> str:
    """Run `tests/js/<script>` with `env` added; fail the test with its output unless it reached "done"."""
    assert NODE is not None
    if not (JS_DIR / "node_modules" / "@supabase" / "supabase-js").is_dir():
        pytest.fail("tests/js/node_modules is missing: run `make test` (it installs the supabase-js test packages)")
    result = subprocess.run(
        [NODE, str(JS_DIR / script)], env={**os.environ, **env}, capture_output=True, text=True, timeout=90, check=False
    )
    assert result.returncode == 0, f"{script} failed\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert '"step":"done"' in result.stdout
    return result.stdout
