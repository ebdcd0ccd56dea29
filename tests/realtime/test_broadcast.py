"""Broadcast through supabase-py: socket sends (`self`), REST, realtime.send / broadcast_changes, private topics."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from shared.broadcast import Broadcaster
from tests.realtime.clients import Inbox, client, subscribe
from tests.realtime.conftest import RtStack


def _options(*, private: bool = False, self_: bool = False) -> Any:
    return {"config": {"broadcast": {"ack": False, "self": self_}, "private": private}}


async def test_socket_broadcast_reaches_others_and_self_only_when_asked(rt_stack: RtStack) -> None:
    room = f"room-{uuid.uuid4().hex[:6]}"
    async with client(rt_stack, rt_stack.anon_key) as one, client(rt_stack, rt_stack.anon_key) as two:
        quiet, loud, listener = Inbox(), Inbox(), Inbox()
        sender_quiet = one.channel(room, _options()).on_broadcast("ping", quiet)
        await subscribe(sender_quiet, expect_postgres=False)
        sender_loud = two.channel(room, _options(self_=True)).on_broadcast("ping", loud)
        await subscribe(sender_loud, expect_postgres=False)
        other = two.channel(f"{room}-other", _options()).on_broadcast("ping", listener)
        await subscribe(other, expect_postgres=False)

        await sender_quiet.send_broadcast("ping", {"n": 1})
        got = await loud.next()
        assert (got["event"], got["payload"]) == ("ping", {"n": 1})
        assert got["meta"]["id"]
        await sender_loud.send_broadcast("ping", {"n": 2})
        assert (await loud.next())["payload"] == {"n": 2}  # self: true
        assert (await quiet.next())["payload"] == {"n": 2}
        assert quiet.drain() == []  # self: false — its own n=1 never came back
        assert listener.drain() == []  # another topic


async def test_rest_broadcast_both_forms(rt_stack: RtStack) -> None:
    room = f"rest-{uuid.uuid4().hex[:6]}"
    async with client(rt_stack, rt_stack.anon_key) as supabase:
        inbox = Inbox()
        channel = supabase.channel(room, _options()).on_broadcast("*", inbox)
        await subscribe(channel, expect_postgres=False)
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{rt_stack.api_url}/realtime/v1/api/broadcast",
                headers={"apikey": rt_stack.service_role_key},
                json={"messages": [{"topic": room, "event": "rest", "payload": {"via": "batch"}}]},
            )
            assert response.status_code == 202
            refused = await http.post(
                f"{rt_stack.api_url}/realtime/v1/api/broadcast",
                headers={"apikey": "not-a-jwt"},
                json={"messages": []},
            )
            assert refused.status_code == 401
        assert (await inbox.next())["payload"] == {"via": "batch"}
        await channel.http_send("rest", {"via": "http_send"})
        got = await inbox.next()
        assert (got["event"], got["payload"]) == ("rest", {"via": "http_send"})


async def test_database_broadcasts_reach_public_and_private_topics(rt_stack: RtStack) -> None:
    user = str(uuid.uuid4())
    topic = f"user:{user}"
    async with (
        client(rt_stack, rt_stack.anon_key, rt_stack.user_token(user)) as owner,
        client(rt_stack, rt_stack.anon_key) as public,
    ):
        private_inbox, public_inbox = Inbox(), Inbox()
        await subscribe(
            owner.channel(topic, _options(private=True)).on_broadcast("*", private_inbox), expect_postgres=False
        )
        await subscribe(public.channel(topic, _options()).on_broadcast("*", public_inbox), expect_postgres=False)
        await rt_stack.execute("select realtime.send('{\"to\": \"owner\"}'::jsonb, 'note', $1)", topic)
        await rt_stack.execute("select realtime.send('{\"to\": \"all\"}'::jsonb, 'note', $1, false)", topic)
        got = await private_inbox.next()
        assert got["event"] == "note"
        assert got["payload"]["to"] == "owner"
        assert got["meta"]["id"] == got["payload"]["id"]  # realtime.send stores its message id in both
        assert (await public_inbox.next())["payload"]["to"] == "all"
        assert private_inbox.drain() == [] and public_inbox.drain() == []


async def test_private_topics_follow_realtime_messages_policies(rt_stack: RtStack) -> None:
    user_a, user_b = str(uuid.uuid4()), str(uuid.uuid4())
    topic_a = f"user:{user_a}"
    async with (
        client(rt_stack, rt_stack.anon_key, rt_stack.user_token(user_a)) as a1,
        client(rt_stack, rt_stack.anon_key, rt_stack.user_token(user_a)) as a2,
        client(rt_stack, rt_stack.anon_key, rt_stack.user_token(user_b)) as b,
        client(rt_stack, rt_stack.anon_key) as anon,
    ):
        for intruder in (b, anon):
            states = Inbox()
            await intruder.channel(topic_a, _options(private=True)).subscribe(states)
            state, error = await states.next()
            assert state.value == "CHANNEL_ERROR"
            assert f"Unauthorized: You do not have permissions to read from this Channel topic: {topic_a}" in str(error)

        inbox = Inbox()
        sender = a1.channel(topic_a, _options(private=True))
        await subscribe(sender, expect_postgres=False)
        await subscribe(a2.channel(topic_a, _options(private=True)).on_broadcast("*", inbox), expect_postgres=False)
        await sender.send_broadcast("typing", {"by": "a1"})
        assert (await inbox.next())["payload"] == {"by": "a1"}

        # notices:* may be read but not written by users: the send is dropped.
        notices = f"notices:{uuid.uuid4().hex[:6]}"
        readonly = a1.channel(notices, _options(private=True))
        await subscribe(readonly, expect_postgres=False)
        notices_inbox = Inbox()
        await subscribe(
            a2.channel(notices, _options(private=True)).on_broadcast("*", notices_inbox), expect_postgres=False
        )
        await readonly.send_broadcast("spam", {"n": 1})
        await rt_stack.execute("select realtime.send('{\"n\": 2}'::jsonb, 'official', $1)", notices)
        got = await notices_inbox.next()
        assert (got["event"], got["payload"]["n"]) == ("official", 2)
        assert notices_inbox.drain() == []


async def test_broadcast_changes_trigger(rt_stack: RtStack) -> None:
    async with client(rt_stack, rt_stack.service_role_key) as worker:
        inbox = Inbox()
        channel = worker.channel("items:changes", _options(private=True)).on_broadcast("INSERT", inbox)
        await subscribe(channel, expect_postgres=False)
        await rt_stack.execute("insert into public.rt_items (n, label) values (42, 'broadcast')")
        payload = (await inbox.next())["payload"]
        assert payload["operation"] == "INSERT"
        assert (payload["schema"], payload["table"]) == ("public", "rt_items")
        assert payload["record"]["n"] == 42
        assert payload["old_record"] is None


async def test_a_new_token_without_read_permission_closes_a_private_channel(rt_stack: RtStack) -> None:
    user_a, user_b = str(uuid.uuid4()), str(uuid.uuid4())
    async with client(rt_stack, rt_stack.anon_key, rt_stack.user_token(user_a)) as supabase:
        channel = supabase.channel(f"user:{user_a}", _options(private=True))
        states = await subscribe(channel, expect_postgres=False)
        await supabase.realtime.set_auth(rt_stack.user_token(user_b))
        state, error = await states.next()
        assert state.value == "CHANNEL_ERROR"
        assert "You no longer have permission to read from this Channel topic" in str(error)
        assert (await states.next())[0].value == "CLOSED"


async def test_private_channels_can_replay_stored_broadcasts(rt_stack: RtStack) -> None:
    user = str(uuid.uuid4())
    topic = f"user:{user}"
    for n in range(3):
        await rt_stack.execute("select realtime.send(jsonb_build_object('n', $2::int), 'note', $1)", topic, n)
    since = (time.time() - 60) * 1000
    replay = {"config": {"broadcast": {"replay": {"since": int(since), "limit": 2}}, "private": True}}
    async with client(rt_stack, rt_stack.anon_key, rt_stack.user_token(user)) as supabase:
        inbox = Inbox()
        await subscribe(supabase.channel(topic, replay).on_broadcast("note", inbox), expect_postgres=False)
        first, second = await inbox.take(2)
        assert [first["payload"]["n"], second["payload"]["n"]] == [1, 2]  # the latest two, oldest first
        assert first["meta"]["replayed"] is True
        states = Inbox()
        public = {"config": {"broadcast": {"replay": {"since": int(since)}}, "private": False}}
        await supabase.channel(f"{topic}-public", public).subscribe(states)
        state, error = await states.next()
        assert state.value == "CHANNEL_ERROR"
        assert "UnableToReplayMessages: Replay is not allowed for public channels" in str(error)


async def test_rest_broadcasts_to_private_topics_pass_the_insert_policies(rt_stack: RtStack) -> None:
    user = str(uuid.uuid4())
    notices = f"notices:{uuid.uuid4().hex[:6]}"
    url = f"{rt_stack.api_url}/realtime/v1/api/broadcast"
    async with client(rt_stack, rt_stack.anon_key, rt_stack.user_token(user)) as reader:
        own, notices_inbox = Inbox(), Inbox()
        await subscribe(
            reader.channel(f"user:{user}", _options(private=True)).on_broadcast("*", own), expect_postgres=False
        )
        await subscribe(
            reader.channel(notices, _options(private=True)).on_broadcast("*", notices_inbox), expect_postgres=False
        )
        async with httpx.AsyncClient() as http:
            for key, topic, n in (
                (rt_stack.user_token(user), notices, 1),  # no INSERT policy for users on notices:*: dropped
                (rt_stack.user_token(user), f"user:{user}", 2),  # their own topic: sent
                (rt_stack.service_role_key, notices, 3),  # service_role bypasses RLS: sent
                (rt_stack.user_token(user), notices, 4),  # still dropped after the service role passed
                (rt_stack.service_role_key, notices, 5),
            ):
                message = {"topic": topic, "event": "note", "payload": {"n": n}, "private": True}
                response = await http.post(url, headers={"apikey": key}, json={"messages": [message]})
                assert response.status_code == 202
        assert (await own.next())["payload"] == {"n": 2}
        assert (await notices_inbox.next())["payload"] == {"n": 3}
        assert (await notices_inbox.next())["payload"] == {"n": 5}  # 4 never came: sent in order after 3
        assert own.drain() == []


async def test_the_workers_broadcaster_coalesces_concurrent_sends(rt_stack: RtStack) -> None:
    user = str(uuid.uuid4())
    topic = f"user:{user}"
    broadcaster = Broadcaster(rt_stack.api_url, rt_stack.service_role_key)
    try:
        async with client(rt_stack, rt_stack.anon_key, rt_stack.user_token(user)) as reader:
            inbox = Inbox()
            await subscribe(
                reader.channel(topic, _options(private=True)).on_broadcast("*", inbox), expect_postgres=False
            )
            sent = await asyncio.gather(*(broadcaster.send(topic, "delta", {"seq": n}) for n in range(50)))
            assert sent == [True] * 50
            got = [(await inbox.next())["payload"]["seq"] for _ in range(50)]
            assert got == list(range(50))  # all of them, in the order they were sent
            assert broadcaster.requests < 50  # sent while one request was in flight: together in the next
            # A payload that cannot be sent fails its own batch only; the broadcaster carries on.
            assert await broadcaster.send(topic, "delta", {"bad": object()}) is False
            assert await broadcaster.send(topic, "delta", {"seq": 50}) is True
            assert (await inbox.next())["payload"] == {"seq": 50}
    finally:
        await broadcaster.aclose()
    unreachable = Broadcaster("http://127.0.0.1:9", rt_stack.service_role_key)
    try:
        assert await unreachable.send(topic, "delta", {"seq": 0}) is False
        assert unreachable.failures == 1
    finally:
        await unreachable.aclose()
