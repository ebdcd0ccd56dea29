"""`make types`: the committed types/database.types.ts is what postgres-meta generates from the migrations
today, and it compiles with tsc (strict)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from devstack import typegen
from devstack.settings import REPO_ROOT

NODE = shutil.which("node")


@pytest.fixture(scope="module")
def installed() -> str:
    if NODE is None:
        pytest.skip("Node.js is not installed; `make types` needs node >= 20")
    if not typegen.GENERATOR.is_file():
        pytest.fail("types/node_modules is missing: run `make test` (it installs the generator and tsc)")
    return NODE


def test_committed_types_match_the_migrations(installed: str, pg_server: str) -> None:
    generated = typegen.generate(REPO_ROOT / "supabase", pg_server)
    assert "export type Database" in generated and "public: {" in generated
    committed = typegen.OUTPUT.read_text() if typegen.OUTPUT.is_file() else ""
    assert committed == generated, typegen.STALE.format(path="types/database.types.ts")


def test_types_compile_with_tsc(installed: str) -> None:
    tsc = typegen.TYPES_DIR / "node_modules" / "typescript" / "bin" / "tsc"
    result = subprocess.run(
        [installed, str(tsc), "-p", str(typegen.TYPES_DIR)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"tsc failed on types/:\n{result.stdout}\n{result.stderr}"
