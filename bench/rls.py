"""RLS at scale: a user's latest-50 history under RLS versus the same query as service role.

10,000 users with two conversations each and 1,000,000 messages, loaded set-based as the superuser with
triggers off (`session_replication_role = replica`), messages interleaved in time across conversations as
a live chat app writes them. The query runs through REST (the user's JWT vs the service key) and directly
in SQL (authenticated with claims vs service_role, set up as PostgREST does), and EXPLAIN (as the user)
shows which index each policy on the queried tables uses.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx

from bench import Figure, Section, percentile
from bench._stack import PASSWORD, SETTINGS, gateway, postgres
from devstack.db import role_dsn
from devstack.tokens import encode, now

USERS = int(os.environ.get("BENCH_RLS_USERS", "10000"))
MESSAGES = int(os.environ.get("BENCH_RLS_MESSAGES", "1000000"))
CONVERSATIONS_PER_USER = 2
COUNT = int(os.environ.get("BENCH_RLS_COUNT", "2000"))
LONG = int(os.environ.get("BENCH_RLS_LONG", "5000"))  # messages in the one long conversation
SAMPLE = 200  # conversations the queries rotate through
WARMUP = 200
SERVICE_CLAIMS = {"role": "service_role"}
SQL_USER = "SQL, authenticated with claims (RLS)"
SQL_SERVICE = "SQL, service_role (bypasses RLS)"
LONG_USER = f"SQL, the {LONG:,}-message conversation, authenticated (RLS)"
LONG_SERVICE = f"SQL, the {LONG:,}-message conversation, service_role"
HISTORY_SQL = "select * from public.messages where conversation_id = $1 order by created_at desc limit 50"
HISTORY_PATH = "/rest/v1/messages?select=*&conversation_id=eq.{}&order=created_at.desc&limit=50"
SETUP_SQL = "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)"
LOAD_SQL = """
set local session_replication_role = replica;  -- no placeholder, job or touch triggers; no FK checks
create temporary table bench_users on commit drop as
  select gen_random_uuid() as id, g as n from generate_series(1, $users) g;
insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
  select '00000000-0000-0000-0000-000000000000', id, 'authenticated', 'authenticated',
         'bench' || n || '@example.com', '', now(), '{"provider": "email"}', '{}', now(), now()
    from bench_users;
create temporary table bench_conversations on commit drop as
  select gen_random_uuid() as id, u.id as user_id, row_number() over () as n
    from bench_users u cross join generate_series(1, $per_user);
insert into public.conversations (id, user_id, coach_id, title, last_message_at, created_at, updated_at)
  select c.id, c.user_id, (select id from public.coaches order by sort_order limit 1), 'Chat ' || c.n,
         now(), now() - interval '30 days', now()
    from bench_conversations c;
-- Turn k of every conversation, then turn k + 1 of every conversation: a conversation's messages are
-- spread over the table, as they are when thousands of users chat at once.
insert into public.messages (conversation_id, user_id, role, content, status, created_at, completed_at)
  select c.id, c.user_id,
         case when k % 2 = 1 then 'user' else 'assistant' end::public.message_role,
         'Turn ' || k || ': ' || repeat('how did the week go with the new evening routine? ', 3),
         'complete', t, t
    from generate_series(1, $per_conversation) k
   cross join bench_conversations c
   cross join lateral (select now() - interval '30 days' + k * interval '10 minutes'
                              + (c.n % 600) * interval '1 second' as t) ts
   order by k, c.n;
-- One power user's conversation, far longer than the rest: the latest 50 must not cost its length.
insert into public.messages (conversation_id, user_id, role, content, status, created_at, completed_at)
  select c.id, c.user_id, 'user', 'Long chat, turn ' || k, 'complete', t, t
    from bench_conversations c
   cross join generate_series(1, $long) k
   cross join lateral (select now() - interval '60 days' + k * interval '1 minute' as t) ts
   where c.n = 1;
"""


async def _load(dsn: str) -> tuple[float, int, list[tuple[str, str]], tuple[str, str]]:
    """Generate the data; returns the seconds it took, the message count, a sample of (conversation, owner)
    and the long conversation."""
    per_conversation = max(1, MESSAGES // (USERS * CONVERSATIONS_PER_USER))
    sql = (
        LOAD_SQL.replace("$users", str(USERS))
        .replace("$per_user", str(CONVERSATIONS_PER_USER))
        .replace("$per_conversation", str(per_conversation))
        .replace("$long", str(LONG))
    )
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(sql)
        await conn.execute("vacuum (analyze) auth.users, public.conversations, public.messages")
        seconds = time.perf_counter() - started
        count = await conn.fetchval("select count(*) from public.messages")
        rows = await conn.fetch(
            "select id::text, user_id::text from public.conversations where title <> 'Chat 1'"
            " order by random() limit $1",
            SAMPLE,
        )
        long = await conn.fetchrow("select id::text, user_id::text from public.conversations where title = 'Chat 1'")
    finally:
        await conn.close()
    return seconds, count, [(r["id"], r["user_id"]) for r in rows], (long["id"], long["user_id"])


def _claims(user: str) -> dict[str, object]:
    return {"sub": user, "role": "authenticated", "aud": "authenticated", "exp": now() + 3600}


def _paired(names: tuple[str, str], calls: tuple[Callable[[int], object], Callable[[int], object]]) -> list[Figure]:
    """Alternate the two calls query by query, so drift on a shared machine hits both figures alike."""
    samples: tuple[list[float], list[float]] = ([], [])
    for i in range(COUNT + WARMUP):
        for call, kept in zip(calls, samples, strict=True):
            started = time.perf_counter()
            call(i)
            if i >= WARMUP:
                kept.append((time.perf_counter() - started) * 1000)
    return [_figure(name, kept) for name, kept in zip(names, samples, strict=True)]


def _figure(name: str, samples: list[float]) -> Figure:
    rate = 1000 * len(samples) / sum(samples)
    return Figure(name, percentile(samples, 0.5), percentile(samples, 0.99), rate, len(samples))


def _rest(url: str, sample: list[tuple[str, str]]) -> list[Figure]:
    secret = SETTINGS.jwt_secret.get_secret_value()
    tokens = {user: encode(_claims(user), secret) for _, user in sample}
    service = SETTINGS.service_role_key
    with httpx.Client(base_url=url, timeout=30) as http:

        def get(i: int, apikey: str, token: str | None) -> None:
            conversation, user = sample[i % len(sample)]
            headers = {"apikey": apikey, "Authorization": f"Bearer {token or tokens[user]}"}
            response = http.get(HISTORY_PATH.format(conversation), headers=headers)
            assert len(response.raise_for_status().json()) == 50, response.text[:200]

        return _paired(
            ("REST, user JWT (RLS)", "REST, service key (bypasses RLS)"),
            (lambda i: get(i, SETTINGS.anon_key, None), lambda i: get(i, service, service)),
        )


async def _sql(dsn: str, sample: list[tuple[str, str]], names: tuple[str, str], count: int) -> list[Figure]:
    """The statement alone, timed inside the transaction PostgREST would open (role and claims set first).

    One connection per role, queries alternating between them.
    """
    user_conn = await asyncpg.connect(role_dsn(dsn, "authenticator", PASSWORD))
    service_conn = await asyncpg.connect(role_dsn(dsn, "authenticator", PASSWORD))
    samples: tuple[list[float], list[float]] = ([], [])
    try:
        for i in range(count + WARMUP):
            conversation, user = sample[i % len(sample)]
            pairs = ((user_conn, "authenticated", _claims(user)), (service_conn, "service_role", SERVICE_CLAIMS))
            for (conn, role, claims), kept in zip(pairs, samples, strict=True):
                async with conn.transaction():
                    await conn.execute(SETUP_SQL, role, json.dumps(claims))
                    started = time.perf_counter()
                    rows = await conn.fetch(HISTORY_SQL, conversation)
                    elapsed = (time.perf_counter() - started) * 1000
                assert len(rows) == 50
                if i >= WARMUP:
                    kept.append(elapsed)
    finally:
        await user_conn.close()
        await service_conn.close()
    return [_figure(name, kept) for name, kept in zip(names, samples, strict=True)]


EXPLAINS = {
    "history (latest 50 of a conversation)": HISTORY_SQL,
    "messages, policy alone (latest 50 of the user's messages)": "select * from public.messages"
    " order by created_at desc limit 50",
    "conversations list (policy on conversations)": "select * from public.conversations"
    " order by last_message_at desc nulls last limit 20",
    "insert a user message (WITH CHECK subquery on conversations)": "insert into public.messages"
    " (conversation_id, user_id, role, content) values ($1, $2, 'user', 'hi')",
}
KEY_LINE = re.compile(r"(Index|Seq Scan|Bitmap|Filter|Index Cond|InitPlan|SubPlan)")


async def _explain(dsn: str, conversation: str, user: str, only: str | None = None) -> tuple[list[str], bool]:
    """EXPLAIN each query as the user (claims set as PostgREST does); key plan lines, and whether any scans a
    queried table sequentially."""
    conn = await asyncpg.connect(role_dsn(dsn, "authenticator", PASSWORD))
    notes, seq_scan = [], False
    try:
        for title, sql in EXPLAINS.items():
            if only is not None and title != only:
                continue
            analyze = "analyze, " if sql.startswith("select") else ""
            args = [conversation] if "$1" in sql else []
            args += [user] if "$2" in sql else []
            tr = conn.transaction()
            await tr.start()
            try:
                await conn.execute(SETUP_SQL, "authenticated", json.dumps(_claims(user)))
                plan = [r[0] for r in await conn.fetch(f"explain ({analyze}costs off, timing off) {sql}", *args)]
            finally:
                await tr.rollback()
            seq_scan |= any(re.search(r"Seq Scan on (messages|conversations)", line) for line in plan)
            keys = [line.strip() for line in plan if KEY_LINE.search(line)]
            notes.append(f"EXPLAIN as the user, {title}: " + " | ".join(keys))
    finally:
        await conn.close()
    return notes, seq_scan


async def _direct(
    dsn: str, sample: list[tuple[str, str]], long: tuple[str, str]
) -> tuple[list[Figure], list[str], bool]:
    figures = await _sql(dsn, sample, (SQL_USER, SQL_SERVICE), COUNT)
    figures += await _sql(dsn, [long], (LONG_USER, LONG_SERVICE), COUNT // 4)
    notes, seq_scan = await _explain(dsn, *sample[0])
    long_notes, long_seq_scan = await _explain(dsn, *long, only="history (latest 50 of a conversation)")
    notes += [note.replace("history", f"history of the {LONG:,}-message conversation", 1) for note in long_notes]
    if any("BitmapAnd" in note for note in long_notes):
        notes.append(
            "Finding: under RLS the planner ANDs the policy's user_id index with the conversation index and"
            " sorts, since it takes user_id and conversation_id as independent and expects ~1 row; the"
            " service role walks messages_conversation_id_created_at_idx backward and stops at 50. Index-backed,"
            " but the cost grows with the conversation's length (the long-conversation figures)."
        )
    return figures, notes, seq_scan or long_seq_scan


def run() -> Section:
    with tempfile.TemporaryDirectory(prefix="bench-rls-") as tmp, postgres(Path(tmp)) as dsn:
        seconds, count, sample, long = asyncio.run(_load(dsn))
        # The gateway starts after the load: its Realtime feed would otherwise decode the load's million
        # rows and stall REST requests meanwhile.
        with gateway(dsn, Path(tmp)) as (url, _):
            rest = _rest(url, sample)
        direct, plans, seq_scan = asyncio.run(_direct(dsn, sample, long))
    return _section([*rest, *direct], seconds, count, plans, seq_scan)


def _section(figures: list[Figure], seconds: float, count: int, plans: list[str], seq_scan: bool) -> Section:
    rest_user, rest_service, sql_user, sql_service, long_user, long_service = figures
    rest_ratio = rest_user.p50_ms / rest_service.p50_ms
    sql_ratio = sql_user.p50_ms / sql_service.p50_ms
    return Section(
        "RLS at scale: latest-50 history, user (RLS) vs service role",
        figures,
        ratios={
            "REST p50: user JWT / service key": rest_ratio,
            "REST p99: user JWT / service key": rest_user.p99_ms / rest_service.p99_ms,
            "SQL p50: authenticated / service_role": sql_ratio,
            "SQL p99: authenticated / service_role": sql_user.p99_ms / sql_service.p99_ms,
            f"SQL p50, {LONG:,}-message conversation: authenticated / service_role": long_user.p50_ms
            / long_service.p50_ms,
        },
        targets={
            "≤ 2 ms p50 in SQL under RLS": _verdict(sql_user.p50_ms <= 2, f"{sql_user.p50_ms:.2f} ms"),
            "RLS overhead ≤ 1.2x through REST (p50)": _verdict(rest_ratio <= 1.2, f"{rest_ratio:.2f}x"),
            "RLS overhead ≤ 1.2x in SQL (p50)": _verdict(sql_ratio <= 1.2, f"{sql_ratio:.2f}x"),
            "every policy on the queried tables index-backed (no Seq Scan)": _verdict(not seq_scan, "Seq Scan found"),
        },
        notes=[
            f"{USERS:,} users, {USERS * CONVERSATIONS_PER_USER:,} conversations, {count:,} messages generated"
            f" and vacuumed/analyzed in {seconds:.0f} s; queries rotate through {SAMPLE} random conversations,"
            f" {COUNT} sequential queries per figure, alternating user and service role query by query; req/s is"
            " the sequential rate (1 / mean latency).",
            "REST: GET " + HISTORY_PATH.format("X") + " with the owner's JWT (apikey anon) vs the service key.",
            "SQL: asyncpg as authenticator; per query a transaction with set_config(role, request.jwt.claims) as"
            " PostgREST does, then the statement, which alone is timed.",
            *plans,
        ],
    )


def _verdict(met: bool, measured: str) -> str:
    return "met" if met else f"missed ({measured})"
