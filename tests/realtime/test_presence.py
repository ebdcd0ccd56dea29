"""Presence through supabase-py: track, the state a late joiner gets, and leaves when a client goes."""

from __future__ import annotations

import uuid

from tests.realtime.clients import Inbox, client, subscribe
from tests.realtime.conftest import RtStack


async def test_track_state_and_leave(rt_stack: RtStack) -> None:
    room = f"presence-{uuid.uuid4().hex[:6]}"
    options = {"config": {"presence": {"key": "", "enabled": True}}}
    async with client(rt_stack, rt_stack.anon_key) as one, client(rt_stack, rt_stack.anon_key) as two:
        joins_one = Inbox()
        first = one.channel(room, {"config": {"presence": {"key": "alice", "enabled": True}}})
        first.on_presence_join(joins_one)
        await subscribe(first, expect_postgres=False)
        await first.track({"status": "online"})
        key, _, new = await joins_one.next()
        assert key == "alice" and new[0]["status"] == "online"

        synced, leaves_two = Inbox(), Inbox()
        second = two.channel(room, options).on_presence_sync(lambda: synced("sync")).on_presence_leave(leaves_two)
        await subscribe(second, expect_postgres=False)
        await synced.next()  # presence_state on join
        assert [m["status"] for m in second.presence_state()["alice"]] == ["online"]

        await one.remove_channel(first)
        key, _, left = await leaves_two.next()
        assert key == "alice" and left[0]["status"] == "online"
