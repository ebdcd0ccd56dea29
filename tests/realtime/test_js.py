"""supabase-js (vsn 2.0.0, binary broadcasts) against the devstack: runs tests/js/realtime.test.mjs."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid

import pytest

from devstack.settings import REPO_ROOT
from tests.realtime.conftest import RtStack

NODE = shutil.which("node")
JS_DIR = REPO_ROOT / "tests" / "js"


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed; the supabase-js tests need node >= 20")
async def test_supabase_js_postgres_changes_and_broadcast(rt_stack: RtStack) -> None:
    assert NODE is not None
    if not (JS_DIR / "node_modules" / "@supabase" / "supabase-js").is_dir():
        pytest.fail("tests/js/node_modules is missing: run `make test` (it installs the supabase-js test packages)")
    label = f"js-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "SUPABASE_URL": rt_stack.api_url, "SUPABASE_ANON_KEY": rt_stack.anon_key, "LABEL": label}
    proc = await asyncio.create_subprocess_exec(
        NODE, str(JS_DIR / "realtime.test.mjs"), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            while True:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    break
                lines.append(line)
                if json.loads(line).get("step") == "ready":
                    await _write_rows(rt_stack, label)
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
    assert proc.returncode == 0, f"supabase-js realtime failed\nstdout:\n{''.join(lines)}\nstderr:\n{stderr}"
    assert '"step":"done"' in lines[-1]


async def _write_rows(stack: RtStack, label: str) -> None:
    await stack.execute("insert into public.rt_messages (body) values ($1)", label)
    await stack.execute("update public.rt_messages set body = $1 where body = $1", label)
    await stack.execute("delete from public.rt_messages where body = $1", label)
    await stack.execute("insert into public.rt_items (n, label) select g, $1 from generate_series(1, 4) g", label)
