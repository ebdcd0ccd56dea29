"""Model requests spread over small HTTP clients (shared/llm/shards.py), and the providers that use them."""

from __future__ import annotations

import asyncio

import pytest

from shared.llm import ChatMessage, Prompt, TextDelta
from shared.llm.anthropic import AnthropicProvider
from shared.llm.shards import Shards
from tests.llm.test_fake_server import fake_url  # noqa: F401  (the fake Anthropic server fixture)


def test_the_least_busy_client_serves_and_a_new_one_opens_only_when_all_are_full() -> None:
    made: list[int] = []

    def make() -> int:
        made.append(len(made))
        return made[-1]

    shards = Shards(make, per_client=2)
    with shards.lease() as a, shards.lease() as b:
        assert (a, b) == (0, 0)  # one client until it is full
        with shards.lease() as c:
            assert c == 1
        with shards.lease() as d:
            assert d == 1  # client 1 is free again: no third client
    with shards.lease() as e:
        assert e == 0
    assert made == [0, 1] and len(shards) == 2


def test_one_client_passed_in_serves_everything() -> None:
    shards = Shards(lambda: "given", per_client=None)
    with shards.lease(), shards.lease(), shards.lease() as third:
        assert third == "given"
    assert len(shards) == 1


def test_a_failed_request_frees_its_place() -> None:
    shards = Shards(object, per_client=1)
    with pytest.raises(RuntimeError), shards.lease():
        raise RuntimeError("the model went away")
    with shards.lease():
        pass
    assert len(shards) == 1


async def test_concurrent_streams_use_clients_of_at_most_eight_connections(fake_url: str) -> None:  # noqa: F811
    provider = AnthropicProvider("sk-fake", base_url=fake_url, timeout=10)

    async def reply(n: int) -> str:
        prompt = Prompt(model="claude-fake-1", messages=[ChatMessage("user", f"[[slow]] question {n}")])
        return "".join([e.text async for e in provider.stream(prompt) if isinstance(e, TextDelta)])

    try:
        replies = await asyncio.gather(*(reply(n) for n in range(20)))
        assert replies == [f"Echo: question {n}" for n in range(20)]
        assert len(provider._clients) == 3  # 20 streams at once, 8 per client
    finally:
        await provider.aclose()
