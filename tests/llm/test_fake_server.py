"""The fake Anthropic server speaks the wire format the real SDK expects (it is used by worker tests)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from devstack.postgres import free_port
from devstack.settings import REPO_ROOT
from shared.errors import PermanentError, TransientError
from shared.llm import ChatMessage, Prompt, TextDelta
from shared.llm.anthropic import AnthropicProvider


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.fake_llm", "--port", str(port), "--slow-chunk-seconds", "0.01"],
        cwd=REPO_ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/_stats", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


async def reply(url: str, text: str) -> tuple[str, str]:
    provider = AnthropicProvider("sk-fake", base_url=url, timeout=10)
    deltas = []
    final = None
    try:
        async for event in provider.stream(Prompt(model="claude-fake-1", messages=[ChatMessage("user", text)])):
            if isinstance(event, TextDelta):
                deltas.append(event.text)
            else:
                final = event
    finally:
        await provider.aclose()
    assert final is not None
    return "".join(deltas), final.text


async def test_streams_an_echo(fake_url: str) -> None:
    streamed, final = await reply(fake_url, "hello there, coach")
    assert streamed == final == "Echo: hello there, coach"


@pytest.mark.parametrize("marker", ["429", "529", "500", "overloaded", "break"])
async def test_scripted_failures_happen_once(fake_url: str, marker: str) -> None:
    text = f"[[{marker}]] once {marker}"
    with pytest.raises(TransientError):
        await reply(fake_url, text)
    assert (await reply(fake_url, text))[1] == f"Echo: once {marker}"


async def test_permanent_error_stays(fake_url: str) -> None:
    for _ in range(2):
        with pytest.raises(PermanentError, match="scripted permanent error"):
            await reply(fake_url, "[[400]] always")
