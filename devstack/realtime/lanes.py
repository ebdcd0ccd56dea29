"""When change events are sent: at once, or, for the rest of a transaction that used up its budget, in
the background, without holding back the channels that do not want its rows.

The feed hands over committed transactions in commit order: the main lane checks and sends each in
chunks, and once one has taken `realtime_transaction_budget_s` (50 ms) with rows left, the rest becomes
a job of the background lane (first in, first out, on a connection of its own) and the main lane goes on
with the next transaction. The rows of a large transaction past the feed's first 512 arrive undecoded
(`feed.RawRows`) and go to the background as they are. So the feed's own work on a bulk write holds up
the transactions behind it by at most the budget plus one chunk of checks; what remains is reading the
bulk write off the stream (~7 µs a row, as nothing can overtake it) and the background's steps, which
let the rest of the gateway run every 256 rows.

Each channel still gets its events in commit order. When a job is made, every channel with a binding
for the table and event of one of its rows is held (`Channel.hold`: its later events wait). The job then
works out, right away and without the database, which of them want one of its rows after their filters,
and releases the others: a subscription filtered on its own user's id waits for no more than that. A
channel that wants rows of the job waits for the checks of its own claims against them (one query per
1,024 rows; claims that got nothing of the transaction's first part go first) and, if it may see some,
until they are sent; channels that may see none of the rows are released before any job event is sent.
Jobs hold at most `realtime_backlog_max_changes` rows together: past that the rest of a transaction is
dropped with a warning (Realtime delivers at most once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

import asyncpg

from devstack.realtime import rls
from devstack.realtime.catalog import TableInfo
from devstack.realtime.changes import Change, ChangeDispatcher, Decisions, Members
from devstack.realtime.channel import Channel
from devstack.realtime.feed import RawRows
from devstack.realtime.hub import Hub
from devstack.realtime.interest import Interest
from devstack.realtime.rls import RlsChecker

log = logging.getLogger("devstack.realtime")

MAIN_CHUNK = 256  # rows per round of checks on the main lane
JOB_CHUNK = 1024  # rows per round of checks in the background
# Rows decoded or matched in the background between two turns of the rest of the gateway (~3 ms of work):
# each step of the main lane (and of every request) may wait for one such stretch.
JOB_STEP = 256
YIELD_EVERY = 16  # events sent before the sockets may send them (well below realtime_socket_queue_size)


@dataclass(eq=False, repr=False)
class Job:
    """The rest of a transaction, finished in the background."""

    changes: list[Change]
    raw: RawRows | None  # rows read but not decoded yet: they follow `changes`
    interest: Interest
    held: set[Channel]
    size: int  # rows, counted in the backlog
    kinds: list[tuple[TableInfo, str]]  # the (table, event) of its rows
    seen: set[str]  # claims that got events of the transaction's first part: likely to get more
    members: list[Members] = field(default_factory=list)
    rows: dict[Channel, list[int]] = field(default_factory=dict)  # wanted rows (indices) per channel
    sorting: asyncio.Task[None] | None = None


@dataclass
class Batch:
    changes: list[Change]
    members: list[Members]
    decisions: Decisions


class Lanes:
    def __init__(
        self,
        dsn: str,
        dispatcher: ChangeDispatcher,
        hub: Hub,
        *,
        budget_s: float,
        max_backlog: int,
        visibility_wait_s: float,
        session_settings: dict[str, str],
    ) -> None:
        self.dsn = dsn
        self.dispatcher = dispatcher
        self.hub = hub
        self.budget_s = budget_s
        self.max_backlog = max_backlog
        self.visibility_wait_s = visibility_wait_s
        self.session_settings = session_settings
        self.backlog = 0  # rows of the jobs not finished yet
        self._jobs: deque[Job] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._main: RlsChecker | None = None
        self._conn: asyncpg.Connection | None = None
        self._checker: RlsChecker | None = None

    # -- main lane ----------------------------------------------------------------------------------
    async def transaction(self, conn: asyncpg.Connection, changes: list[Change], raw: RawRows | None = None) -> None:
        """Check and send one committed transaction's row changes; what the budget leaves (and the rows of
        a large one not decoded yet), in the background."""
        channels = self.hub.change_channels
        if not (changes or raw) or not channels:
            return
        if self._main is None or self._main.conn is not conn:
            self._main = RlsChecker(conn, self.visibility_wait_s)
        interest = Interest(channels)
        started = time.monotonic()
        seen: set[str] = set()  # the claims that got events of this transaction
        for start in range(0, len(changes), MAIN_CHUNK):
            if start and time.monotonic() - started > self.budget_s:
                self._defer(changes[start:], raw, interest, seen)
                return
            chunk = changes[start : start + MAIN_CHUNK]
            members = [interest.members(change) for change in chunk]
            if any(members):
                batch = Batch(chunk, members, await self.dispatcher.decide(self._main, chunk, members))
                await self._send(batch, None, seen)
            await asyncio.sleep(0)
        if raw is not None:
            self._defer([], raw, interest, seen)

    async def _send(self, batch: Batch, job: Job | None, seen: set[str] | None = None) -> None:
        """Send a batch's events: behind any hold, or for a job's channels right away (they wait for it)."""
        for sent, (channel, frame) in enumerate(self.dispatcher.frames(batch.changes, batch.members, batch.decisions)):
            if seen is not None:
                seen.add(channel.claims_json)
            if job is None:
                channel.deliver(frame)
            elif self.hub.watches(channel):
                if channel.pending and channel.pending[0] is job:
                    channel.outbox.push(frame)
                else:  # released already (cannot happen: jobs run in order); keep the order anyway
                    channel.deliver(frame)
            if sent % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)

    def _defer(self, changes: list[Change], raw: RawRows | None, interest: Interest, seen: set[str]) -> None:
        rows = len(changes) + (len(raw.rows) if raw else 0)
        if self.backlog + rows > self.max_backlog:
            log.warning(
                "realtime backlog full: dropping the rest of a transaction",
                extra={"rows": rows, "backlog": self.backlog},
            )
            return
        kinds = {(change.table.relation.relid, change.kind): change.table for change in changes}
        kinds.update(raw.kinds() if raw else {})
        held: set[Channel] = set()
        for (_, kind), table in kinds.items():
            held |= interest.route(table, kind).channels
        job = Job(changes, raw, interest, held, rows, [(table, kind) for (_, kind), table in kinds.items()], seen)
        for channel in held:
            channel.hold(job)
        job.sorting = asyncio.create_task(self._sort(job))
        self._jobs.append(job)
        self.backlog += rows
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="devstack-realtime-backlog")
        log.info("realtime: finishing a large transaction in the background", extra={"rows": rows})

    # -- background lane ----------------------------------------------------------------------------
    async def _release_absent(self, job: Job) -> None:
        """Before any decoding, release the held channels whose only bindings here are `column=eq.<text>`
        for texts that none of the job's rows holds anywhere (a search of their bytes): a subscription
        filtered on its own user's id is not held while someone else's bulk write is decoded."""
        texts: dict[Channel, set[str] | None] = {}
        for table, kind in job.kinds:
            for channel, wanted in job.interest.route(table, kind).texts(table).items():
                known = texts.get(channel, set())
                texts[channel] = None if known is None or wanted is None else known | wanted
        blob = b"\0".join(payload for _, payload in job.raw.rows) if job.raw is not None else b""
        decoded = {value for change in job.changes for value in change.filter_record.values() if value is not None}
        for checked, (channel, wanted) in enumerate(texts.items(), 1):
            found = wanted is None or any(text in decoded or text.encode() in blob for text in wanted)
            if not found and channel in job.held:
                channel.release(job)
                job.held.discard(channel)
            if checked % 64 == 0:
                await asyncio.sleep(0)

    async def _sort(self, job: Job) -> None:
        """Decode what was not; which held channels want which rows; release the others at once."""
        await self._release_absent(job)
        if job.raw is not None:
            for start in range(0, len(job.raw.rows), JOB_STEP):
                job.changes += job.raw.decode(start, start + JOB_STEP)
                await asyncio.sleep(0)
        rows: dict[Channel, list[int]] = defaultdict(list)
        for start in range(0, len(job.changes), JOB_STEP):
            for index in range(start, min(start + JOB_STEP, len(job.changes))):
                own = job.interest.members(job.changes[index])
                job.members.append(own)
                for channel, _, _ in own:
                    if not rows[channel] or rows[channel][-1] != index:
                        rows[channel].append(index)
            await asyncio.sleep(0)
        job.rows = dict(rows)
        for channel in job.held - rows.keys():
            channel.release(job)
        job.held &= rows.keys()

    async def _run(self) -> None:
        while True:
            while not self._jobs:
                self._wake.clear()
                await self._wake.wait()
            job = self._jobs[0]
            try:
                assert job.sorting is not None
                await job.sorting
                await self._finish(job)
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
                log.warning("realtime: a background transaction failed", extra={"error": str(exc)})
                self._disconnect()
            except Exception:  # the lane must outlive any error
                log.exception("realtime: a background transaction failed")
            finally:
                self._jobs.popleft()
                self.backlog -= job.size
                for channel in job.held:
                    channel.release(job)

    async def _finish(self, job: Job) -> None:
        """Per subscriber claims, check the rows its channels want; release who may see none; send."""
        checker = await self._background_checker()
        groups: dict[tuple[str, str], list[Channel]] = defaultdict(list)
        for channel in job.rows:
            groups[(channel.role, channel.claims_json)].append(channel)
        ready: list[tuple[list[Channel], list[Batch]]] = []
        # The subscribers that got nothing of the first part (bystanders, most likely) are decided first.
        for channels in sorted(groups.values(), key=lambda group: (group[0].claims_json in job.seen, len(group))):
            members = set(channels)
            indices = sorted({index for channel in channels for index in job.rows[channel]})
            batches = []
            for start in range(0, len(indices), JOB_CHUNK):
                chunk = indices[start : start + JOB_CHUNK]
                changes = [job.changes[index] for index in chunk]
                wanting = [[m for m in job.members[index] if m[0] in members] for index in chunk]
                batch = Batch(changes, wanting, await self.dispatcher.decide(checker, changes, wanting))
                if any(batch.decisions.passes(i, c, m[0]) for i, c in enumerate(changes) for m in wanting[i]):
                    batches.append(batch)
            if batches:
                ready.append((channels, batches))
            else:
                for channel in channels:
                    channel.release(job)
        for channels, batches in ready:
            for batch in batches:
                await self._send(batch, job)
            for channel in channels:
                channel.release(job)

    async def _background_checker(self) -> RlsChecker:
        if self._checker is None or self._conn is None or self._conn.is_closed():
            self._disconnect()
            self._conn = await asyncpg.connect(self.dsn, server_settings=self.session_settings)
            await rls.prepare(self._conn)
            self._checker = RlsChecker(self._conn, self.visibility_wait_s)
        return self._checker

    def _disconnect(self) -> None:
        conn, self._conn, self._checker = self._conn, None, None
        if conn is not None:
            conn.terminate()

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *(job.sorting for job in self._jobs)) if t is not None]
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
        self._disconnect()
