"""A reply's text held back for its message's safety decision, handed to the decision to send
(DeltaBatcher.hand_over): sent once, under its own number, by the decision or else by the worker."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from shared.broadcast import Broadcaster
from workers import safety as safety_module
from workers.queue import JobQueue
from workers.safety import SafetyDecisions
from workers.streaming import DeltaBatcher, Withheld


class Sent:
    def __init__(self) -> None:
        self.deltas: list[dict[str, Any]] = []

    async def send(self, topic: str, event: str, payload: dict[str, Any], *, private: bool = True) -> bool:
        assert (topic, event) == ("conversation:c", "delta")
        self.deltas.append(payload)
        return True


def held() -> tuple[DeltaBatcher, Sent, asyncio.Future[bool]]:
    sent = Sent()
    gate: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    batcher = DeltaBatcher(cast(Broadcaster, sent), "conversation:c", "reply-1", 0.0, gate, attempt=2)
    return batcher, sent, gate


async def test_the_decision_sends_the_handed_text_and_the_rest_follows_under_the_next_number() -> None:
    batcher, sent, gate = held()
    await batcher.add("Hello ")
    await batcher.add("there.")
    assert sent.deltas == []  # held back
    assert batcher.hand_over() == {"message_id": "reply-1", "seq": 1, "text": "Hello there.", "attempt": 2}
    assert batcher.hand_over() is None  # one hand-over at a time
    await batcher.add(" More.")
    batcher.handed_out(True)  # the finish committed: its decision sent it
    gate.set_result(True)
    await batcher.flush()
    assert sent.deltas == [{"message_id": "reply-1", "seq": 2, "text": " More.", "attempt": 2}]


async def test_a_gate_opened_before_the_finish_answers_waits_for_it_and_sends_nothing_twice() -> None:
    batcher, sent, gate = held()
    await batcher.add("Hello.")
    batcher.hand_over()
    gate.set_result(True)  # the decision's broadcast came first
    flushing = asyncio.create_task(batcher.flush())
    await asyncio.sleep(0.01)
    assert not flushing.done() and sent.deltas == []
    batcher.handed_out(True)
    await flushing
    assert sent.deltas == []


async def test_handed_text_the_decision_did_not_send_goes_out_first_once_cleared() -> None:
    batcher, sent, gate = held()
    await batcher.add("Hello.")
    batcher.hand_over()
    batcher.handed_out(False)  # its finish did not commit
    await batcher.add(" More.")
    gate.set_result(True)  # cleared, heard some other way (the poll)
    await batcher.flush()
    assert sent.deltas == [{"message_id": "reply-1", "seq": 1, "text": "Hello. More.", "attempt": 2}]
    await batcher.add(" Last.")
    await batcher.flush()
    assert sent.deltas[1:] == [{"message_id": "reply-1", "seq": 2, "text": " Last.", "attempt": 2}]


async def test_handed_text_not_sent_is_part_of_the_tail_under_its_own_number() -> None:
    batcher, _, gate = held()
    await batcher.add("Hello.")
    batcher.hand_over()
    batcher.handed_out(False)
    await batcher.add(" More.")
    gate.set_result(True)
    assert batcher.take_tail() == ("Hello. More.", 1)


async def test_nothing_is_handed_over_once_the_gate_is_open_or_when_nothing_is_held() -> None:
    batcher, _, gate = held()
    assert batcher.hand_over() is None
    gate.set_result(True)
    await batcher.add("Hello.")
    assert batcher.hand_over() is None


async def test_handed_text_of_a_message_not_cleared_never_leaves() -> None:
    batcher, sent, gate = held()
    await batcher.add("Hello.")
    batcher.hand_over()
    gate.set_result(False)
    with pytest.raises(Withheld):
        await batcher.flush()
    assert sent.deltas == []


async def test_a_reply_that_ended_hands_nothing_more_to_the_decision() -> None:
    safety = SafetyDecisions(cast(JobQueue, None), poll_seconds=3600)
    gate = safety.watch("message-1")
    batcher, _, _ = held()
    batcher.gate = gate
    safety.hold("message-1", batcher)
    assert safety.holder("message-1") is batcher
    other, _, _ = held()
    safety.unhold("message-1", other)  # not the one holding it: nothing changes
    assert safety.holder("message-1") is batcher
    safety.unhold("message-1", batcher)  # its attempt ended (a failure, say)
    assert safety.holder("message-1") is None
    safety.hold("message-1", batcher)
    safety.decided("message-1", True)
    await asyncio.sleep(0)
    assert safety.holder("message-1") is None  # decided: nobody holds it any more
    await safety.aclose()


async def test_a_decision_heard_before_the_reply_waits_for_it_is_kept_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reply claimed before its message was decided may reach `watch` only after the decision was heard
    (its assessment finished here first, with no broadcast): it gets it at once, not a poll later."""
    monkeypatch.setattr(safety_module, "HEARD_KEPT", 2)
    safety = SafetyDecisions(cast(JobQueue, None), poll_seconds=3600)
    safety.decided("message-1", True)
    gate = safety.watch("message-1")
    assert gate.done() and gate.result() is True
    for n in (2, 3, 4):  # only the latest few are kept
        safety.decided(f"message-{n}", False)
    assert not safety.watch("message-2").done()
    assert safety.watch("message-4").result() is False
    await safety.aclose()


async def test_a_tool_step_takes_the_unsent_text_only_when_it_need_not_wait() -> None:
    """take_now (a tool step sends the text from its transaction): never while the gate is shut or the
    handed text's fate is unknown, and then under the number that follows it."""
    batcher, sent, gate = held()
    await batcher.add("Hello.")
    assert batcher.take_now() is None  # held back
    batcher.hand_over()
    await batcher.add(" More.")
    gate.set_result(True)
    assert batcher.take_now() is None  # the decision may yet send "Hello." itself: flush waits for its answer
    batcher.handed_out(True)
    assert batcher.take_now() == {"message_id": "reply-1", "seq": 2, "text": " More.", "attempt": 2}
    assert batcher.take_now() is None and sent.deltas == []
