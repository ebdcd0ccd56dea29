"""`make chat`: the terminal client talks to a coach through the official client, as a frontend would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest

from devstack.postgres import free_port
from devstack.settings import REPO_ROOT
from devtools.chat_client import Stream
from tests.conftest import Stack
from tests.workers.conftest import WorkerProcess


async def test_terminal_chat_streams_a_reply(stack: Stack, start_worker: Callable[..., WorkerProcess]) -> None:
    start_worker()
    env = {**os.environ, "SUPABASE_URL": stack.api_url, "SUPABASE_ANON_KEY": stack.anon_key}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devtools.chat_client",
        "--coach",
        "maya",
        "--email",
        f"chat-{uuid.uuid4().hex[:8]}@example.com",
        "--password",
        "a-long-password",
        cwd=REPO_ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(b"How do I start a morning routine?\n/quit\n"), 60)
    text = output.decode()
    assert proc.returncode == 0, text
    assert "Maya:" in text  # the coach's intro
    assert "Echo: How do I start a morning routine?" in text


def test_without_the_stack_the_terminal_chat_says_what_to_start() -> None:
    """No traceback for the most common first mistake: `make chat` before `make dev`."""
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "devtools.chat_client", "--coach", "maya"],
        cwd=REPO_ROOT,
        env={**os.environ, "SUPABASE_URL": url},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert (
        done.stderr == f"cannot reach Supabase at {url}: start the local stack with `make dev` (or set SUPABASE_URL)\n"
    )


async def test_terminal_checkin_shows_analysis_and_recommendations(
    stack: Stack, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    env = {**os.environ, "SUPABASE_URL": stack.api_url, "SUPABASE_ANON_KEY": stack.anon_key}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devtools.chat_client",
        "--coach",
        "maya",
        "--email",
        f"checkin-{uuid.uuid4().hex[:8]}@example.com",
        "--password",
        "a-long-password",
        cwd=REPO_ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    # Every question takes its default (an empty line); then leave.
    script = b"/checkin sleep\n" + b"\n" * 12 + b"/quit\n"
    output, _ = await asyncio.wait_for(proc.communicate(script), 90)
    text = output.decode()
    assert proc.returncode == 0, text
    assert "Analysis: [fake] summary" in text
    assert "→ [1] [fake 1] title" in text


async def test_terminal_chat_shows_tool_calls_and_todays_plan(
    stack: Stack, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    env = {**os.environ, "SUPABASE_URL": stack.api_url, "SUPABASE_ANON_KEY": stack.anon_key}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devtools.chat_client",
        "--coach",
        "ada",
        "--email",
        f"planner-{uuid.uuid4().hex[:8]}@example.com",
        "--password",
        "a-long-password",
        cwd=REPO_ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    script = '/plan\nAdd a walk [[call:add_plan_item {"title": "Evening walk", "priority": "high"}]]\n/plan\n/quit\n'
    output, _ = await asyncio.wait_for(proc.communicate(script.encode()), 60)
    text = output.decode()
    assert proc.returncode == 0, text
    assert "No plan for" in text  # before: nothing planned today
    assert '⚙ add_plan_item {"title": "Evening walk", "priority": "high"}' in text  # as it happened
    assert "✓ add_plan_item:" in text
    assert "[ ] Evening walk (high)" in text  # after: today's plan has it


def test_a_reply_tried_again_is_shown_from_its_start(capsys: pytest.CaptureFixture[str]) -> None:
    stream = Stream()
    stream.start("r1")
    stream.delta({"message_id": "r1", "seq": 1, "text": "Hel", "attempt": 1})
    stream.delta({"message_id": "r1", "seq": 2, "text": "lo, wor", "attempt": 1})
    # Its worker died; the next attempt writes the reply again from seq 1.
    stream.delta({"message_id": "r1", "seq": 2, "text": "lo!", "attempt": 2})  # out of order: kept for later
    stream.delta({"message_id": "r1", "seq": 3, "text": "ld", "attempt": 1})  # the old worker, late: dropped
    stream.delta({"message_id": "r1", "seq": 1, "text": "Hel", "attempt": 2})
    stream.delta({"message_id": "other", "seq": 3, "text": "?", "attempt": 2})  # another reply
    assert stream.printed == "Hello!"
    assert "starts over" in capsys.readouterr().out
