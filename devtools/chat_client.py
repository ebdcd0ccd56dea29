"""`make chat`: talk to a coach from the terminal, exactly as a frontend would, with supabase-py only.

Signs in a demo user through Auth with the anon key, picks a coach, creates a conversation, writes
messages straight into `messages`, and prints the reply as it streams over Broadcast, then checks it
against the stored row (the database is the truth: missed deltas are filled in from it). What the coach
does with its tools shows as it happens (the `tool_call` and `tool_result` broadcasts); `/plan` shows a
day's plan from `daily_plans` and `plan_items`.

    python -m devtools.chat_client [--coach SLUG] [--email E --password P]
    (SUPABASE_URL and SUPABASE_ANON_KEY default to the local stack; the demo account is seed.sql's)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from realtime import RealtimeSubscribeStates
from realtime.types import RealtimeChannelOptions
from supabase import AsyncClient, AsyncClientOptions, acreate_client
from supabase_auth.errors import AuthApiError, AuthRetryableError
from supabase_auth.types import Session

from devstack.settings import DEMO_ANON_KEY
from devtools.checkin_client import run_checkin

DEMO_EMAIL = "demo@coachbase.dev"  # supabase/seed.sql's demo account (signed up here when it is missing)
DEMO_PASSWORD = "coachbase-demo"
STATUS = {"todo": "[ ]", "in_progress": "[~]", "done": "[x]", "skipped": "[-]"}


def rows(response: Any) -> list[dict[str, Any]]:
    """PostgREST rows as plain dicts (the client types them as generic JSON)."""
    return [dict(row) for row in response.data or []]


def private_channel() -> RealtimeChannelOptions:
    return {
        "config": {
            "broadcast": {"ack": False, "self": False},
            "presence": {"key": "", "enabled": False},
            "private": True,
        }
    }


@dataclass
class Stream:
    """The reply being shown: deltas by sequence number, printed in order; a later attempt starts over."""

    message_id: str | None = None
    printed: str = ""
    next_seq: int = 1
    attempt: int = 1
    early: dict[int, str] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self, message_id: str | None) -> None:
        """Show a new reply."""
        self.message_id, self.printed, self.next_seq, self.attempt, self.early = message_id, "", 1, 1, {}
        self.done.clear()

    def delta(self, payload: dict[str, Any]) -> None:
        if self.message_id is not None and payload.get("message_id") != self.message_id:
            return
        attempt = int(payload.get("attempt", 1))
        if attempt < self.attempt:  # a worker that lost the reply to another may still send a little
            return
        if attempt > self.attempt:  # the reply is being written again from the start
            self.attempt, self.printed, self.next_seq, self.early = attempt, "", 1, {}
            print("\n  (the coach starts over)\n", flush=True)
        self.early[int(payload.get("seq", 0))] = str(payload.get("text", ""))
        while self.next_seq in self.early:
            text = self.early.pop(self.next_seq)
            self.printed += text
            self.next_seq += 1
            print(text, end="", flush=True)

    def tool_call(self, payload: dict[str, Any]) -> None:
        """The coach called a tool (stored, about to run)."""
        if self.message_id is None or payload.get("message_id") == self.message_id:
            arguments = json.dumps(payload.get("input") or {}, ensure_ascii=False)
            print(f"\n  ⚙ {payload.get('name')} {arguments[:100]}", flush=True)

    def tool_result(self, payload: dict[str, Any]) -> None:
        """What the tool did (its effect is committed) or why it was refused."""
        if self.message_id is not None and payload.get("message_id") != self.message_id:
            return
        result = payload.get("result") or {}
        if payload.get("is_error"):
            print(
                f"  ✗ {payload.get('name')}: {result.get('error') if isinstance(result, dict) else result}", flush=True
            )
        else:
            print(f"  ✓ {payload.get('name')}: {json.dumps(result, ensure_ascii=False)[:100]}", flush=True)


async def sign_in(client: AsyncClient, email: str, password: str) -> Session:
    try:
        session = (await client.auth.sign_in_with_password({"email": email, "password": password})).session
    except AuthApiError:
        response = await client.auth.sign_up(
            {"email": email, "password": password, "options": {"data": {"display_name": "Demo"}}}
        )
        session = response.session
    if session is None:
        raise SystemExit("could not sign in (is email confirmation on?)")
    return session


async def pick_coach(client: AsyncClient, slug: str | None) -> dict[str, Any]:
    coaches = rows(await client.table("coaches").select("*").eq("is_active", True).order("sort_order").execute())
    if not coaches:
        raise SystemExit("no active coaches: run `make db-reset` to load the seed catalogue")
    if slug:
        match = [c for c in coaches if c["slug"] == slug]
        if not match:
            raise SystemExit(f"no active coach {slug!r}; choose from: {', '.join(c['slug'] for c in coaches)}")
        return dict(match[0])
    for i, coach in enumerate(coaches, 1):
        print(f"  {i}. {coach['name']} — {coach['description'][:90]}")
    choice = await asyncio.to_thread(input, f"Choose a coach [1-{len(coaches)}]: ")
    index = int(choice) - 1 if choice.strip().isdigit() and 0 < int(choice) <= len(coaches) else 0
    return dict(coaches[index])


async def converse(client: AsyncClient, session: Session, coach: dict[str, Any]) -> None:
    conversation = rows(await client.table("conversations").insert({"coach_id": coach["id"]}).execute())[0]
    stream = Stream()
    channel = client.channel(f"conversation:{conversation['id']}", private_channel())
    channel.on_broadcast("delta", lambda p: stream.delta(p.get("payload", p)))
    channel.on_broadcast("tool_call", lambda p: stream.tool_call(p.get("payload", p)))
    channel.on_broadcast("tool_result", lambda p: stream.tool_result(p.get("payload", p)))
    channel.on_broadcast("done", lambda p: stream.done.set())
    joined = asyncio.Event()
    await client.realtime.set_auth(session.access_token)
    await channel.subscribe(lambda s, e: joined.set() if s == RealtimeSubscribeStates.SUBSCRIBED else None)
    await asyncio.wait_for(joined.wait(), 10)
    print(
        f"\n{coach['name']}: {coach['intro']}\n"
        "(/checkin [area] to check in, /plan [YYYY-MM-DD] to see a day's plan, /quit to leave)\n"
    )
    while True:
        try:
            text = (await asyncio.to_thread(input, "you> ")).strip()
        except EOFError:
            break
        if text in ("/quit", "/exit"):
            break
        if text.startswith("/checkin"):
            slug = text.split(maxsplit=1)[1] if " " in text else None
            await run_checkin(client, session.user.id, slug)
        elif text.startswith("/plan"):
            await show_plan(client, session.user.id, text.split(maxsplit=1)[1] if " " in text else None)
        elif text:
            await exchange(client, conversation["id"], coach["name"], text, stream)


async def exchange(client: AsyncClient, conversation_id: str, coach_name: str, text: str, stream: Stream) -> None:
    insert = client.table("messages").insert({"conversation_id": conversation_id, "content": text})
    sent = rows(await insert.execute())[0]
    reply = rows(await client.table("messages").select("id").eq("reply_to", sent["id"]).execute())
    stream.start(reply[0]["id"] if reply else None)
    print(f"{coach_name}> ", end="", flush=True)
    final = await wait_for_row(client, sent["id"], stream)
    if final["status"] == "failed":
        print(f"\n[{final['error']}]")
    elif final["content"].startswith(stream.printed):
        print(final["content"][len(stream.printed) :])  # whatever the broadcast did not bring
    else:
        print(f"\n{final['content']}")
    for citation in final.get("citations") or []:  # the sources the reply cited (Iris's notes, ...)
        print(f"  [{citation.get('ref')}] {citation.get('title')} ({citation.get('source')})")
    print()


async def show_plan(client: AsyncClient, user_id: str, day: str | None) -> None:
    """A day's plan (today in the user's time zone by default) with its items in order."""
    if day is None:
        profile = rows(await client.table("profiles").select("timezone").eq("id", user_id).execute())
        day = _today(profile[0]["timezone"] if profile else "UTC").isoformat()
    query = client.table("daily_plans").select("date, summary, status, plan_items(title, status, priority, position)")
    plans = rows(await query.eq("date", day).execute())
    if not plans:
        print(f"No plan for {day} yet. Ask your coach to make one.\n")
        return
    plan = plans[0]
    print(f"Plan for {plan['date']} ({plan['status']}){': ' + plan['summary'] if plan['summary'] else ''}")
    for item in sorted(plan["plan_items"], key=lambda i: float(i["position"])):
        print(f"  {STATUS.get(item['status'], '[?]')} {item['title']} ({item['priority']})")
    print()


def _today(timezone: str) -> date:
    try:
        return datetime.now(ZoneInfo(timezone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.now(ZoneInfo("UTC")).date()


async def wait_for_row(client: AsyncClient, message_id: str, stream: Stream, seconds: float = 120) -> dict[str, Any]:
    """The final reply row; Broadcast's `done` wakes us early, polling covers lost broadcasts."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        found = rows(await client.table("messages").select("*").eq("reply_to", message_id).execute())
        if found and found[0]["status"] in ("complete", "failed"):
            return found[0]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stream.done.wait(), 2)
    raise SystemExit("\nno reply within two minutes: is a worker running (`make dev`)?")


def _url() -> str:
    return os.environ.get("SUPABASE_URL", "http://127.0.0.1:54321")


async def main_async(args: argparse.Namespace) -> None:
    url = _url()
    key = os.environ.get("SUPABASE_ANON_KEY", DEMO_ANON_KEY)
    async with httpx.AsyncClient(timeout=30) as http:
        options = AsyncClientOptions(auto_refresh_token=True, httpx_client=http)
        client = await acreate_client(url, key, options=options)
        try:
            session = await sign_in(client, args.email, args.password)
            coach = await pick_coach(client, args.coach)
            await converse(client, session, coach)
        finally:
            await client.realtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.chat_client", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--coach", help="coach slug (default: choose interactively)")
    parser.add_argument("--email", default=DEMO_EMAIL)
    parser.add_argument("--password", default=DEMO_PASSWORD)
    try:
        asyncio.run(main_async(parser.parse_args()))
    except (KeyboardInterrupt, EOFError):
        print()
    except (httpx.ConnectError, AuthRetryableError):  # Auth wraps a refused connection in AuthRetryableError
        sys.exit(f"cannot reach Supabase at {_url()}: start the local stack with `make dev` (or set SUPABASE_URL)")


if __name__ == "__main__":
    main()
