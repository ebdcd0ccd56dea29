"""Checkpoints with an in-memory queue: those made while one call is in flight go together in the next,
each caller hears its own outcome, and a failed call fails only the checkpoints it carried."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from shared.coalesce import MAX_REQUEST_CHARS
from shared.errors import TransientError
from workers.checkpoints import Checkpoints
from workers.queue import JobQueue, LeaseLost


class CheckpointQueue:
    """Just enough of workers.queue.JobQueue: checkpoint_chat_replies_v1, held open until released."""

    worker_id = "memory"

    def __init__(self) -> None:
        self.calls: list[list[int]] = []  # the job ids of each call
        self.called = asyncio.Event()
        self.release = asyncio.Event()
        self.lost: set[int] = set()
        self.fail_next: Exception | None = None

    async def rpc(self, function: str, params: dict[str, Any]) -> Any:
        assert function == "checkpoint_chat_replies_v1" and params["p_worker"] == "memory"
        self.calls.append([item["job_id"] for item in params["p_items"]])
        self.called.set()
        await self.release.wait()
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        return {
            str(item["job_id"]): {"code": "PT409", "message": "lease lost"} if item["job_id"] in self.lost else None
            for item in params["p_items"]
        }


def checkpoints(queue: CheckpointQueue) -> Checkpoints:
    return Checkpoints(cast(JobQueue, queue))


async def test_checkpoints_made_during_a_call_go_together_in_the_next() -> None:
    queue = CheckpointQueue()
    saver = checkpoints(queue)
    first = asyncio.create_task(saver.save(1, "m1", "Hel"))
    await queue.called.wait()  # the first call is in flight
    others = [asyncio.create_task(saver.save(job, f"m{job}", "partial")) for job in (2, 3, 4)]
    await asyncio.sleep(0)
    queue.release.set()
    await asyncio.gather(first, *others)
    assert queue.calls == [[1], [2, 3, 4]]
    assert saver.requests == 2


async def test_each_caller_hears_its_own_outcome() -> None:
    queue = CheckpointQueue()
    queue.lost.add(2)
    queue.release.set()
    saver = checkpoints(queue)
    kept, lost = await asyncio.gather(saver.save(1, "m1", "a"), saver.save(2, "m2", "b"), return_exceptions=True)
    assert kept is None
    assert isinstance(lost, LeaseLost) and "2" in str(lost)
    assert queue.calls == [[1, 2]]


async def test_a_failed_call_fails_its_checkpoints_and_the_next_still_goes() -> None:
    queue = CheckpointQueue()
    queue.fail_next = TransientError("gateway away")
    queue.release.set()
    saver = checkpoints(queue)
    with pytest.raises(TransientError, match="gateway away"):
        await saver.save(1, "m1", "a")
    await saver.save(2, "m2", "b")
    assert queue.calls == [[1], [2]]


async def test_a_call_carries_at_most_max_batch_chars_of_text_but_always_one_checkpoint() -> None:
    queue = CheckpointQueue()
    saver = checkpoints(queue)
    first = asyncio.create_task(saver.save(1, "m1", "a"))
    await queue.called.wait()
    half = "x" * (MAX_REQUEST_CHARS // 2)
    rest = [
        asyncio.create_task(saver.save(2, "m2", half)),
        asyncio.create_task(saver.save(3, "m3", half)),
        asyncio.create_task(saver.save(4, "m4", half)),  # would pass the limit: next call
        asyncio.create_task(saver.save(5, "m5", "y" * (MAX_REQUEST_CHARS + 1))),  # alone, however long
    ]
    await asyncio.sleep(0)
    queue.release.set()
    await asyncio.gather(first, *rest)
    assert queue.calls == [[1], [2, 3], [4], [5]]
