"""Group commit of API calls (shared/coalesce.py): what goes in which call, and how many are in flight."""

from __future__ import annotations

import asyncio

from shared.coalesce import Coalescer


class Calls:
    """A send function whose calls stay open until released; it records the batches it was given."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()

    async def __call__(self, items: list[int]) -> list[str]:
        self.batches.append(list(items))
        await self.release.wait()
        return [f"ok {item}" for item in items]


def failed(item: int, error: Exception | None) -> str:
    return f"failed {item}"


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_one_call_at_a_time_sends_what_came_meanwhile_together_in_the_next() -> None:
    send = Calls()
    coalescer = Coalescer(send, failed, max_items=10)
    submitted = [asyncio.create_task(coalescer.submit(1))]
    await settle()
    submitted += [asyncio.create_task(coalescer.submit(i)) for i in (2, 3)]
    await settle()
    assert send.batches == [[1]]  # 2 and 3 wait for the call under way
    send.release.set()
    assert await asyncio.gather(*submitted) == ["ok 1", "ok 2", "ok 3"]
    assert send.batches == [[1], [2, 3]]


async def test_more_calls_in_flight_spare_an_item_the_wait_for_another_call() -> None:
    send = Calls()
    coalescer = Coalescer(send, failed, max_items=10, calls=2)
    submitted = [asyncio.create_task(coalescer.submit(1))]
    await settle()
    submitted.append(asyncio.create_task(coalescer.submit(2)))
    await settle()
    assert send.batches == [[1], [2]]  # both under way at once
    submitted += [asyncio.create_task(coalescer.submit(i)) for i in (3, 4)]
    await settle()
    assert send.batches == [[1], [2]]  # the limit is reached: these wait, and then go together
    send.release.set()
    assert await asyncio.gather(*submitted) == ["ok 1", "ok 2", "ok 3", "ok 4"]
    assert send.batches == [[1], [2], [3, 4]]
    await coalescer.flushed(1)


async def test_a_call_that_raises_fails_each_of_its_items() -> None:
    async def send(items: list[int]) -> list[str]:
        raise RuntimeError("down")

    coalescer = Coalescer(send, failed, max_items=10, calls=2)
    assert await asyncio.gather(coalescer.submit(1), coalescer.submit(2)) == ["failed 1", "failed 2"]


async def test_an_item_submitted_as_the_last_call_returns_is_sent() -> None:
    """The sender that just emptied the queue has returned but is still held: an item submitted right then
    must start a call of its own rather than wait for one that will never come."""
    sent: list[list[int]] = []

    async def send(items: list[int]) -> list[str]:
        sent.append(list(items))
        return [f"ok {item}" for item in items]

    coalescer = Coalescer(send, failed, max_items=10)
    first = asyncio.create_task(coalescer.submit(1))
    await settle()
    [sender] = coalescer._senders
    assert sender.done()
    second = asyncio.get_running_loop().create_task(coalescer.submit(2))
    assert await asyncio.wait_for(asyncio.gather(first, second), 1) == ["ok 1", "ok 2"]
    assert sent == [[1], [2]]
