"""Postgres Changes under RLS reach every subscriber allowed to see them, whatever the commit's timing.

A transaction's commit is streamed from the slot as soon as its WAL is flushed, which can be before the
committing session has left the list of running transactions; a per-subscriber RLS check that read the
row at that moment found nothing and silently dropped the change (issue 15: ~4 in 64 users lost their
first row). Here 64 users, each on their own supabase-py client, each subscribed to the RLS table
`rt_notes`, get rows written by other sessions: one the moment each subscription is live, then bursts of
single-row and multi-row transactions from several connections at once. Every owner must receive each of
their rows exactly once and nobody else's. Rounds repeat so that a 1-in-16 loss cannot slip through.

On an idle machine that window lasts microseconds and a loss is rare; the tests make it long on purpose.
They run against a server of their own with a synchronous standby named that never connects: a session
with `synchronous_commit = on` then waits after its commit is flushed (and streamed) until it is
cancelled, invisible to everyone else meanwhile. A share of the transactions is held that way for a
random 0-100 ms, so each of these tests fails on a feed that checks RLS without waiting for visibility.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from supabase import AsyncClient

from devstack.postgres import EmbeddedPostgres, free_port
from tests.conftest import PASSWORD
from tests.realtime.clients import TIMEOUT, client, subscribe
from tests.realtime.conftest import RtStack, gateway
from tests.waiting import wait_until

USERS = 64
BURST_ROUNDS = 3
WRITERS = 8  # concurrent sessions writing a burst
HELD = 0.5  # the share of transactions whose commit is held (streamed, not yet visible) ...
HOLD_S = 0.1  # ... for a random 0-100 ms each
RUNS = 2  # each run: 64 users x 8 rows; a 1-in-16 loss goes unseen with probability (15/16)^512


class Receiver:
    """One user's supabase-py client and the bodies of the rt_notes INSERTs it received."""

    def __init__(self, user_id: uuid.UUID) -> None:
        self.user_id = user_id
        self.bodies: list[str] = []
        self.changed = asyncio.Event()

    def __call__(self, payload: dict[str, object]) -> None:
        data = payload["data"]
        assert isinstance(data, dict)
        record = data.get("record") or {}
        self.bodies.append(str(record.get("body")))
        self.changed.set()

    async def wait_for(self, body: str) -> None:
        """Until `body` arrived (changes reach a channel in commit order: what came before it is in too)."""
        async with asyncio.timeout(TIMEOUT):
            while body not in self.bodies:
                self.changed.clear()
                await self.changed.wait()


@contextlib.asynccontextmanager
async def _subscribed(stack: RtStack, receiver: Receiver, table: str = "rt_notes") -> AsyncIterator[AsyncClient]:
    async with client(stack, stack.anon_key, stack.user_token(str(receiver.user_id))) as supabase:
        channel = supabase.channel(f"{table}-{receiver.user_id}").on_postgres_changes("INSERT", receiver, table=table)
        await subscribe(channel)
        yield supabase


async def _insert(pool: asyncpg.Pool, rows: list[tuple[uuid.UUID, str]], *, hold: bool = False) -> None:
    """One transaction inserting `rows` (owner, body); with `hold`, its commit waits for `_release`."""
    async with pool.acquire() as conn, conn.transaction():
        if hold:
            await conn.execute("set local synchronous_commit = on")
        await conn.executemany("insert into public.rt_notes (owner_id, body) values ($1, $2)", rows)


async def _release(dsn: str, stop: asyncio.Event, seed: int) -> None:
    """Lets each held commit finish after its own 0-HOLD_S: a different gap between streamed and visible."""
    rng = random.Random(seed)
    release_at: dict[tuple[int, object], float] = {}  # (pid, xact_start) → when to let it go
    conn = await asyncpg.connect(dsn)
    try:
        while not stop.is_set() or release_at:
            now = time.monotonic()
            waiting = await conn.fetch("select pid, xact_start from pg_stat_activity where wait_event = 'SyncRep'")
            due = []
            for row in waiting:
                key = (row["pid"], row["xact_start"])
                at = release_at.setdefault(key, now + rng.uniform(0, HOLD_S))
                if at <= now or stop.is_set():
                    due.append(row["pid"])
                    del release_at[key]
            # Only sessions waiting for the standby: their commit is durable, cancelling just ends the wait.
            if due:
                await conn.execute(
                    "select pg_cancel_backend(pid) from pg_stat_activity"
                    " where wait_event = 'SyncRep' and pid = any($1::int[])",
                    due,
                )
            if stop.is_set() and not waiting:
                return
            await asyncio.sleep(0.002)
    finally:
        await conn.close()


async def _first_row_when_live(
    stack: RtStack, pool: asyncpg.Pool, receiver: Receiver, live: contextlib.AsyncExitStack, hold: bool
) -> None:
    """Subscribe, and the moment the subscription is live have another session insert the user's row."""
    await live.enter_async_context(_subscribed(stack, receiver))
    await _insert(pool, [(receiver.user_id, f"first {receiver.user_id}")], hold=hold)


@pytest.mark.parametrize("seed", range(RUNS))
async def test_every_owner_receives_each_insert_exactly_once(held_commits_stack: RtStack, seed: int) -> None:
    stack = held_commits_stack
    rng = random.Random(seed)
    receivers = [Receiver(uuid.uuid4()) for _ in range(USERS)]
    expected: dict[uuid.UUID, list[str]] = {r.user_id: [f"first {r.user_id}"] for r in receivers}
    pool = await asyncpg.create_pool(stack.postgres_dsn, min_size=WRITERS, max_size=WRITERS)
    stop = asyncio.Event()
    releaser = asyncio.create_task(_release(stack.dsn, stop, seed))
    try:
        async with contextlib.AsyncExitStack() as live:
            await asyncio.gather(*(_first_row_when_live(stack, pool, r, live, rng.random() < HELD) for r in receivers))
            for round_ in range(BURST_ROUNDS):
                # One single-row transaction per user, from WRITERS sessions at once.
                singles = [[(r.user_id, f"single {round_} {r.user_id}")] for r in receivers]
                # Multi-row transactions, each holding the rows of several users.
                per_tx = USERS // WRITERS
                multis = [
                    [(r.user_id, f"multi {round_} {r.user_id}") for r in receivers[i : i + per_tx]]
                    for i in range(0, USERS, per_tx)
                ]
                await asyncio.gather(*(_insert(pool, rows, hold=rng.random() < HELD) for rows in singles + multis))
                for rows in singles + multis:
                    for owner, body in rows:
                        expected[owner].append(body)
            # A last row per user, in one transaction: once it arrived, everything before it has too.
            await _insert(pool, [(r.user_id, f"last {r.user_id}") for r in receivers], hold=True)
            for r in receivers:
                expected[r.user_id].append(f"last {r.user_id}")
            outcomes = await asyncio.gather(
                *(r.wait_for(f"last {r.user_id}") for r in receivers), return_exceptions=True
            )
    finally:
        stop.set()
        await releaser
        await pool.close()

    late = [r.user_id for r, outcome in zip(receivers, outcomes, strict=True) if outcome is not None]
    missing = {r.user_id: sorted(set(expected[r.user_id]) - set(r.bodies)) for r in receivers}
    missing = {user: bodies for user, bodies in missing.items() if bodies}
    assert not missing and not late, f"{len(missing)} of {USERS} users missed rows they may see: {missing}"
    for r in receivers:
        assert [b for b, n in Counter(r.bodies).items() if n > 1] == [], f"{r.user_id} received duplicates"
        assert [b for b in r.bodies if not b.endswith(str(r.user_id))] == [], f"{r.user_id} got others' rows"
        assert sorted(r.bodies) == sorted(expected[r.user_id])


@pytest.fixture(scope="module")
def held_commits_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtStack]:
    """A gateway on a server of its own where a session asking for it has its commit held after the flush.

    With a synchronous standby named that never connects, a session with `synchronous_commit = on`
    waits after its commit record is flushed, and stays invisible to others until it is cancelled: the
    window between "streamed from the slot" and "visible" made as long as the test needs. Every other
    session commits locally (`synchronous_commit = local` server-wide)."""
    tmp_path = tmp_path_factory.mktemp("held-commits")
    server = EmbeddedPostgres(tmp_path / "pgdata", free_port(), PASSWORD)
    server.start()
    try:
        for stack in gateway(server.dsn(), None, tmp_path / "gateway.log", {}):
            asyncio.run(_hold_commits(stack.dsn, "held_by_test"))
            yield stack
    finally:
        server.stop("immediate")


async def _hold_commits(dsn: str, standby: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"alter system set synchronous_standby_names = '{standby}'")
        await conn.execute("alter system set synchronous_commit = 'local'")
        await conn.execute("select pg_reload_conf()")

        async def applied() -> bool:
            return bool(await conn.fetchval("show synchronous_standby_names") == standby)

        await wait_until(applied, TIMEOUT, "the reloaded settings", interval=0.01)
    finally:
        await conn.close()


async def _checked_while_invisible(admin: asyncpg.Connection, held_pid: int, marker: Receiver) -> None:
    """Until the feed has checked the held transaction's rt_notes row, or waits to be able to.

    The held transaction inserts into rt_notes (RLS) and then into rt_messages (no RLS, `marker`
    subscribes to it): the feed dispatches a transaction's changes in order, so the marker's row arriving
    means the rt_notes row was checked already. A feed that waits for visibility is seen sleeping in its
    check, between two looks at the snapshot."""

    async def checked_or_waiting() -> bool:
        return bool(
            marker.bodies
            or await admin.fetchval(
                """select exists(select 1 from pg_stat_activity where pid = $1 and wait_event = 'SyncRep')
                      and exists(select 1 from pg_stat_activity
                                  where application_name = 'devstack_realtime' and wait_event = 'PgSleep'
                                    and query like '%devstack_rls_rows%')""",
                held_pid,
            )
        )

    await wait_until(checked_or_waiting, TIMEOUT, "the feed's check of the held row", interval=0.005)


async def test_a_change_streamed_before_it_is_visible_still_reaches_its_owner(
    held_commits_stack: RtStack,
) -> None:
    stack = held_commits_stack
    owner, other, marker = Receiver(uuid.uuid4()), Receiver(uuid.uuid4()), Receiver(uuid.uuid4())
    admin = await asyncpg.connect(stack.dsn)
    held = await asyncpg.connect(stack.postgres_dsn)
    try:
        async with (
            _subscribed(stack, owner),
            _subscribed(stack, other),
            _subscribed(stack, marker, table="rt_messages"),
        ):
            await held.execute("set synchronous_commit = on")
            held_pid = await held.fetchval("select pg_backend_pid()")
            insert = asyncio.create_task(
                held.execute(  # one transaction (simple query), its statements run in this order
                    f"insert into public.rt_notes (owner_id, body) values ('{owner.user_id}', 'held');"
                    " insert into public.rt_messages (body) values ('held')"
                )
            )
            await _checked_while_invisible(admin, held_pid, marker)
            assert await admin.fetchval("select count(*) from public.rt_notes where body = 'held'") == 0
            # Release the commit (it is already durable locally); from now on the row is visible.
            await admin.execute("select pg_cancel_backend($1)", held_pid)
            await insert
            await owner.wait_for("held")
            # A later row for the other user: it arrives after anything of the held transaction would have.
            await stack.execute("insert into public.rt_notes (owner_id, body) values ($1, 'later')", other.user_id)
            await other.wait_for("later")
        assert owner.bodies == ["held"]
        assert other.bodies == ["later"]
    finally:
        await held.close()
        await admin.close()
