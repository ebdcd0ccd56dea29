"""The SQL job queue: claims under leases, ordering keys, retries with backoff, dead jobs, privileges.

Every test registers a job kind of its own (internal.job_kinds) with two small functions, so the tests
sharing the database never claim each other's jobs, and the queue's core is exercised exactly as a
new kind's migration would use it: the claim builds each job's context through the kind's context
function and finishes it through its finish function.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from devstack.db import role_dsn
from tests.conftest import PASSWORD
from workers.queue import Snapshot


class ServiceRole:
    """A connection acting as `service_role`, the way PostgREST runs a worker's RPC."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def call(self, sql: str, *args: object) -> list[asyncpg.Record]:
        async with self.conn.transaction():
            await self.conn.execute("select set_config('role', 'service_role', true)")
            return await self.conn.fetch(sql, *args)


def authenticator(database: str) -> str:
    return role_dsn(database, "authenticator", PASSWORD)


@pytest.fixture
async def svc(database: str) -> AsyncIterator[ServiceRole]:
    conn = await asyncpg.connect(authenticator(database))
    try:
        yield ServiceRole(conn)
    finally:
        await conn.close()


KIND_FUNCTIONS = """
create or replace function internal.test_kind_context(p_job internal.jobs) returns jsonb
  language plpgsql set search_path = '' as $$
begin
  if p_job.payload ? 'broken' then
    raise exception 'the context is broken' using errcode = 'PT404';
  end if;
  return jsonb_build_object('n', p_job.payload -> 'n', 'attempt', p_job.attempts);
end $$;
create or replace function internal.test_kind_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb)
  returns jsonb language plpgsql set search_path = '' as $$
begin
  if p_output ? 'refuse' then
    raise exception 'output refused: %', p_output ->> 'refuse' using errcode = '22023';
  end if;
  return p_output || jsonb_build_object('finished_by', 'test_kind_finish');
end $$;
revoke execute on function internal.test_kind_context(internal.jobs),
  internal.test_kind_finish(internal.jobs, jsonb, jsonb) from public;
grant execute on function internal.test_kind_context(internal.jobs),
  internal.test_kind_finish(internal.jobs, jsonb, jsonb) to service_role;
"""


@pytest.fixture
async def kind(admin: asyncpg.Connection) -> str:
    """A registered kind of its own per test, so tests sharing the database never claim each other's jobs."""
    name = f"test_{uuid.uuid4().hex[:10]}"
    await admin.execute(KIND_FUNCTIONS)
    await admin.execute(
        "insert into internal.job_kinds (name, description, context_function, finish_function) values "
        "($1, 'A kind for the queue tests.', 'internal.test_kind_context(internal.jobs)', "
        "'internal.test_kind_finish(internal.jobs, jsonb, jsonb)')",
        name,
    )
    return name


async def enqueue(
    svc: ServiceRole, kind: str, *, key: str | None = None, order: str | None = None, max_attempts: int = 5
) -> int | None:
    rows = await svc.call(
        "select internal.enqueue_job($1, $2::jsonb, $3, $4, now(), $5) as id",
        kind,
        json.dumps({"n": 1}),
        key,
        order,
        max_attempts,
    )
    return rows[0]["id"]


async def claim_jobs(
    svc: ServiceRole,
    worker: str,
    kind: str,
    limit: int = 10,
    lease: int = 60,
    finish: list[dict[str, object]] | None = None,
) -> dict[str, object]:
    rows = await svc.call(
        "select public.claim_jobs_v4($1, $2, $3, $4, $5::jsonb) as answer",
        worker,
        [kind],
        limit,
        lease,
        json.dumps(finish or []),
    )
    answer: dict[str, object] = json.loads(rows[0]["answer"])
    return answer


async def claim(svc: ServiceRole, worker: str, kind: str, limit: int = 10, lease: int = 60) -> list[int]:
    jobs = (await claim_jobs(svc, worker, kind, limit, lease))["jobs"]
    assert isinstance(jobs, list)
    return sorted(job["id"] for job in jobs)


async def complete(svc: ServiceRole, job: int, worker: str, output: dict[str, object] | None = None) -> None:
    """Finish `job` through the claim (claim 0 more); raise the SQLSTATE of a refusal like a call would."""
    answer = await claim_jobs(svc, worker, "none", 0, finish=[{"id": job, "output": output or {}}])
    refused = answer["finished"][str(job)]  # type: ignore[index]
    if refused is not None:
        raise CompletionRefused(refused["code"], refused["message"])


class CompletionRefused(Exception):
    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(f"{sqlstate}: {message}")
        self.sqlstate = sqlstate


async def test_claim_complete_and_dedupe(svc: ServiceRole, admin: asyncpg.Connection, kind: str) -> None:
    first = await enqueue(svc, kind, key=f"{kind}:a")
    assert await enqueue(svc, kind, key=f"{kind}:a") is None  # same dedupe key: no second job
    assert await claim(svc, "w1", kind) == [first]
    assert await claim(svc, "w2", kind) == []  # leased
    await complete(svc, first, "w1", {"ok": True})
    row = await admin.fetchrow("select status, attempts, result, finished_at from internal.jobs where id = $1", first)
    assert (row["status"], row["attempts"]) == ("succeeded", 1)
    assert json.loads(row["result"]) == {"ok": True, "finished_by": "test_kind_finish"}
    assert row["finished_at"] is not None


async def test_a_claim_returns_each_job_with_its_context_or_its_error(svc: ServiceRole, kind: str) -> None:
    good = await enqueue(svc, kind)
    broken = await svc.call("select internal.enqueue_job($1, '{\"broken\": true}'::jsonb) as id", kind)
    jobs = {job["id"]: job for job in (await claim_jobs(svc, "w", kind))["jobs"]}  # type: ignore[union-attr]
    assert jobs[good]["context"] == {"n": 1, "attempt": 1}
    assert jobs[good]["context_error"] is None
    assert jobs[broken[0]["id"]]["context"] is None
    assert jobs[broken[0]["id"]]["context_error"] == {"code": "PT404", "message": "the context is broken"}


async def test_each_finish_item_stands_alone_and_records_its_model_calls(
    svc: ServiceRole, admin: asyncpg.Connection, kind: str
) -> None:
    ok, refused, foreign = [await enqueue(svc, kind) for _ in range(3)]
    await claim(svc, "w", kind)
    await admin.execute("update internal.jobs set locked_by = 'someone else' where id = $1", foreign)
    usage = [
        {"model": "m-1", "prompt_version": "p@v1", "input_tokens": 10, "output_tokens": 2},
        {"model": "m-2", "prompt_version": "p@v1", "input_tokens": 12, "output_tokens": 3, "cache_read_tokens": 4},
    ]
    answer = await claim_jobs(
        svc,
        "w",
        kind,
        0,
        finish=[
            {"id": ok, "output": {"n": 1}, "usage": usage},
            {"id": refused, "output": {"refuse": "no"}},
            {"id": foreign, "output": {}},
        ],
    )
    assert answer["finished"] == {
        str(ok): None,
        str(refused): {"code": "22023", "message": "output refused: no"},
        str(foreign): {"code": "PT409", "message": f"job {foreign} is not leased to worker w"},
    }
    statuses = dict(
        await admin.fetch("select id, status::text from internal.jobs where id = any($1)", [ok, refused, foreign])
    )
    assert statuses == {ok: "succeeded", refused: "running", foreign: "running"}
    calls = await admin.fetch(
        "select model, input_tokens, output_tokens, cache_read_tokens from internal.ai_usage"
        " where job_id = $1 order by id",
        ok,
    )
    assert [tuple(c) for c in calls] == [("m-1", 10, 2, 0), ("m-2", 12, 3, 4)]


async def test_each_model_call_is_in_the_ledger_once_and_an_attempt_that_did_not_finish_records_its_own(
    svc: ServiceRole, admin: asyncpg.Connection, kind: str
) -> None:
    """record_spent_calls_v1 needs no lease (the calls were paid whoever holds the job now); a call sent
    again, by it or with a finish, is skipped."""
    job = await enqueue(svc, kind)
    await claim(svc, "w", kind)
    c1, c2, c3 = ({"call_id": str(uuid.uuid4()), "model": "m", "input_tokens": n} for n in (1, 2, 3))

    async def spent(*calls: dict[str, object]) -> int:
        [row] = await svc.call("select public.record_spent_calls_v1($1, $2::jsonb) as n", job, json.dumps(calls))
        return int(row["n"])

    assert await spent(c1) == 1
    assert await spent(c1, c2) == 1  # c1 is there already
    await admin.execute("update internal.jobs set locked_by = 'someone else' where id = $1", job)
    assert await spent(c2) == 0  # no lease needed, and nothing twice
    await admin.execute("update internal.jobs set locked_by = 'w' where id = $1", job)
    answer = await claim_jobs(svc, "w", kind, 0, finish=[{"id": job, "output": {}, "usage": [c2, c3]}])
    assert answer["finished"] == {str(job): None}
    ledger = await admin.fetch("select input_tokens from internal.ai_usage where job_id = $1 order by id", job)
    assert [r["input_tokens"] for r in ledger] == [1, 2, 3]
    for calls, refused in (([{"model": "m"}], "call_id"), ([], "1 to 100")):
        with pytest.raises(asyncpg.InvalidParameterValueError, match=refused):
            await spent(*calls)
    with pytest.raises(asyncpg.PostgresError, match="does not exist"):
        await svc.call("select public.record_spent_calls_v1(-1, $1::jsonb)", json.dumps([c1]))


async def test_ordering_key_runs_one_at_a_time_in_order(svc: ServiceRole, kind: str) -> None:
    a = await enqueue(svc, kind, order="conv-1")
    b = await enqueue(svc, kind, order="conv-1")
    c = await enqueue(svc, kind, order="conv-2")
    assert await claim(svc, "w1", kind) == sorted([a, c])  # b waits for a
    assert await claim(svc, "w2", kind) == []
    await complete(svc, a, "w1")
    assert await claim(svc, "w2", kind) == [b]


async def test_a_wake_up_names_its_transaction_and_a_claim_says_whether_it_saw_it(
    database: str, svc: ServiceRole, kind: str
) -> None:
    """20261210001300: a worker whose claim found nothing looks again only if its snapshot had not seen
    the transaction its wake-up named (workers/runtime.py)."""
    writer = await asyncpg.connect(database)
    try:
        async with writer.transaction():
            xid = await writer.fetchval("select pg_current_xact_id()::text")
            await writer.execute("select internal.enqueue_job($1, '{}'::jsonb)", kind)
            await writer.execute("select internal.enqueue_job($1, '{}'::jsonb)", kind)
            wakes = await writer.fetch(
                "select payload from realtime.messages where topic = 'workers:jobs' and event = 'wake' "
                "and payload ->> 'xid' = $1",
                xid,
            )
            assert [json.loads(w["payload"])["xid"] for w in wakes] == [xid]  # once per transaction
            early = await claim_jobs(svc, "w", kind)  # before the commit
        late = await claim_jobs(svc, "w", kind)
    finally:
        await writer.close()
    before, after = Snapshot.parse(early["snapshot"]), Snapshot.parse(late["snapshot"])
    assert early["jobs"] == [] and before is not None and not before.sees(int(xid))
    assert len(late["jobs"]) == 2 and after is not None and after.sees(int(xid))  # type: ignore[arg-type]
    assert (await claim_jobs(svc, "w", kind, limit=0))["snapshot"] is None  # only finishing: it looked for nothing


async def test_expired_lease_is_reclaimed_and_the_old_worker_is_refused(
    svc: ServiceRole, admin: asyncpg.Connection, kind: str
) -> None:
    job = await enqueue(svc, kind)
    assert await claim(svc, "crashed", kind) == [job]
    await admin.execute("update internal.jobs set lease_until = now() - interval '1 second' where id = $1", job)
    assert await claim(svc, "rescuer", kind) == [job]
    with pytest.raises(CompletionRefused) as info:
        await complete(svc, job, "crashed")
    assert info.value.sqlstate == "PT409"
    await svc.call("select public.extend_job_lease_v1($1, 'rescuer', 30)", job)
    await complete(svc, job, "rescuer")
    assert await admin.fetchval("select attempts from internal.jobs where id = $1", job) == 2


async def test_retryable_failure_backs_off_then_dies_after_max_attempts(
    svc: ServiceRole, admin: asyncpg.Connection, kind: str
) -> None:
    job = await enqueue(svc, kind, max_attempts=2)
    await claim(svc, "w", kind)
    status = await svc.call("select public.fail_job_v1($1, 'w', '429 rate limited', true, 30) as s", job)
    assert status[0]["s"] == "failed"
    delay = await admin.fetchval("select extract(epoch from run_after - now()) from internal.jobs where id = $1", job)
    assert 29 <= delay <= 31  # at least the model's retry-after
    assert await claim(svc, "w", kind) == []  # not due yet
    await admin.execute("update internal.jobs set run_after = now() where id = $1", job)
    assert await claim(svc, "w", kind) == [job]
    status = await svc.call("select public.fail_job_v1($1, 'w', '500 again', true) as s", job)
    assert status[0]["s"] == "dead"
    problem = await admin.fetchrow("select problem, last_error from internal.job_problems where id = $1", job)
    assert (problem["problem"], problem["last_error"]) == ("dead: gave up", "500 again")
    retried = await admin.fetchrow("select status, attempts from internal.retry_job($1)", job)
    assert (retried["status"], retried["attempts"]) == ("queued", 0)


async def test_permanent_failure_is_dead_at_once(svc: ServiceRole, kind: str) -> None:
    job = await enqueue(svc, kind)
    await claim(svc, "w", kind)
    status = await svc.call("select public.fail_job_v1($1, 'w', '400 bad request', false) as s", job)
    assert status[0]["s"] == "dead"


async def test_lost_worker_on_last_attempt_makes_the_job_dead(
    svc: ServiceRole, admin: asyncpg.Connection, kind: str
) -> None:
    job = await enqueue(svc, kind, max_attempts=1)
    await claim(svc, "w", kind)
    await admin.execute("update internal.jobs set lease_until = now() - interval '1 second' where id = $1", job)
    assert await claim(svc, "w2", kind) == []
    row = await admin.fetchrow("select status, last_error from internal.jobs where id = $1", job)
    assert row["status"] == "dead" and "lease expired" in row["last_error"]


ON_DEAD = """
create or replace function internal.test_kind_on_dead(p_job internal.jobs) returns void
  language plpgsql set search_path = '' as $$
begin
  update internal.jobs
     set payload = payload || jsonb_build_object('cleaned_up', coalesce((payload ->> 'cleaned_up')::int, 0) + 1)
   where id = p_job.id;
end $$;
revoke execute on function internal.test_kind_on_dead(internal.jobs) from public;
grant execute on function internal.test_kind_on_dead(internal.jobs) to service_role;
"""


async def test_a_dead_job_runs_its_kinds_clean_up_once_and_only_its_kinds(
    svc: ServiceRole, admin: asyncpg.Connection, kind: str
) -> None:
    """The registry's on_dead_function, run by the one trigger for dead jobs (jobs_on_dead): once when a job
    dies (given up by its worker, or lost on its last attempt), never for a job that succeeds, and not for
    a kind without one."""
    await admin.execute(ON_DEAD)
    await admin.execute(
        "update internal.job_kinds set on_dead_function = 'internal.test_kind_on_dead(internal.jobs)' where name = $1",
        kind,
    )
    given_up, lost, succeeded = [await enqueue(svc, kind, max_attempts=1) for _ in range(3)]
    await claim(svc, "w", kind)
    await svc.call("select public.fail_job_v1($1, 'w', '400 bad request', false)", given_up)
    await complete(svc, succeeded, "w")
    await admin.execute("update internal.jobs set lease_until = now() - interval '1 second' where id = $1", lost)
    await claim(svc, "w2", kind)
    await admin.execute("update internal.jobs set status = 'dead' where id = $1", given_up)  # dead already: no-op
    rows = dict(
        await admin.fetch(
            "select id, payload -> 'cleaned_up' from internal.jobs where id = any($1)", [given_up, lost, succeeded]
        )
    )
    assert rows == {given_up: "1", lost: "1", succeeded: None}

    await admin.execute("update internal.job_kinds set on_dead_function = null where name = $1", kind)
    plain = await enqueue(svc, kind, max_attempts=1)
    await claim(svc, "w", kind)
    await svc.call("select public.fail_job_v1($1, 'w', '400 bad request', false)", plain)
    assert await admin.fetchval("select payload from internal.jobs where id = $1", plain) == '{"n": 1}'


async def test_a_kind_is_named_only_by_the_registry(svc: ServiceRole, admin: asyncpg.Connection, kind: str) -> None:
    """The queue reaches a kind's functions through dispatchers written from internal.job_kinds, so a change
    of the registry is what the next finish calls; no trigger of internal.jobs names a kind (a kind's
    clean-up is its on_dead_function, not a trigger of its own), and no dispatcher plans a call each time."""
    await admin.execute(
        "create or replace function internal.test_kind_finish_v2(p_job internal.jobs, p_output jsonb, p_usage jsonb)"
        " returns jsonb language sql set search_path = '' as $$ select jsonb_build_object('finished_by', 'v2') $$;"
        " revoke execute on function internal.test_kind_finish_v2(internal.jobs, jsonb, jsonb) from public;"
        " grant execute on function internal.test_kind_finish_v2(internal.jobs, jsonb, jsonb) to service_role"
    )
    first, second = await enqueue(svc, kind), await enqueue(svc, kind)
    await claim(svc, "w", kind)
    await complete(svc, first, "w")
    await admin.execute(
        "update internal.job_kinds set finish_function = 'internal.test_kind_finish_v2(internal.jobs, jsonb, jsonb)'"
        " where name = $1",
        kind,
    )
    await complete(svc, second, "w")
    results = dict(
        await admin.fetch("select id, result ->> 'finished_by' from internal.jobs where id = any($1)", [first, second])
    )
    assert results == {first: "test_kind_finish", second: "v2"}

    triggers = await admin.fetch(
        "select tgname, pg_get_triggerdef(oid) as definition from pg_trigger"
        " where tgrelid = 'internal.jobs'::regclass and not tgisinternal"
    )
    assert [t["tgname"] for t in triggers if "kind" in t["definition"]] == []
    for dispatcher in ("job_kind_context", "job_kind_finish", "job_kind_on_dead"):
        source = await admin.fetchval(
            "select prosrc from pg_proc where proname = $1 and pronamespace = 'internal'::regnamespace", dispatcher
        )
        assert "execute" not in source.lower()  # static calls
        assert (f"when '{kind}' then" in source) == (dispatcher != "job_kind_on_dead")  # it has no clean-up


async def test_a_registry_that_names_a_dropped_function_is_refused_with_the_kind(admin: asyncpg.Connection) -> None:
    """The dispatchers are written from names: a kind whose function was dropped (a regprocedure column does
    not stop that) must fail the registry's next change loudly, not write a dispatcher that calls nothing."""
    name = f"test_{uuid.uuid4().hex[:10]}"
    await admin.execute(KIND_FUNCTIONS)
    transaction = admin.transaction()
    await transaction.start()
    try:
        await admin.execute(
            f"create function internal.{name}_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb)"
            " returns jsonb language sql set search_path = '' as $$ select '{}'::jsonb $$"
        )
        await admin.execute(
            "insert into internal.job_kinds (name, description, context_function, finish_function) values"
            " ($1, 'A kind for the queue tests.', 'internal.test_kind_context(internal.jobs)', $2::regprocedure)",
            name,
            f"internal.{name}_finish(internal.jobs, jsonb, jsonb)",
        )
        await admin.execute(f"drop function internal.{name}_finish(internal.jobs, jsonb, jsonb)")
        with pytest.raises(asyncpg.UndefinedFunctionError, match=f"job kind {name}: a function it names no longer"):
            await admin.execute("update internal.job_kinds set on_dead_function = null where name = $1", name)
    finally:
        await transaction.rollback()


async def test_release_hands_the_job_back_without_counting(
    svc: ServiceRole, admin: asyncpg.Connection, kind: str
) -> None:
    job = await enqueue(svc, kind)
    await claim(svc, "w", kind)
    await svc.call("select public.release_job_v1($1, 'w')", job)
    row = await admin.fetchrow("select status, attempts, max_attempts, locked_by from internal.jobs where id = $1", job)
    # Not counted against the limit (one more allowed), yet numbered: the next run is attempt 2, so a
    # reply's deltas start over for its clients instead of repeating attempt 1's numbers.
    assert (row["status"], row["attempts"], row["max_attempts"], row["locked_by"]) == ("queued", 1, 6, None)
    [again] = (await claim_jobs(svc, "w2", kind))["jobs"]  # type: ignore[misc]
    assert (again["id"], again["attempts"], again["max_attempts"]) == (job, 2, 6)


async def test_concurrent_workers_claim_each_job_once(database: str, svc: ServiceRole, kind: str) -> None:
    for _ in range(120):
        await enqueue(svc, kind)

    async def worker(name: str) -> list[int]:
        conn = await asyncpg.connect(authenticator(database))
        me, got = ServiceRole(conn), []
        try:
            while ids := await claim(me, name, kind, limit=5):
                got += ids
                for job in ids:
                    await complete(me, job, name)
        finally:
            await conn.close()
        return got

    results = await asyncio.gather(*(worker(f"w{i}") for i in range(4)))
    claimed = [job for ids in results for job in ids]
    assert len(claimed) == 120 and len(set(claimed)) == 120


async def jobs_index_use(admin: asyncpg.Connection) -> dict[str, tuple[int, int]]:
    """(scans, entries read) of each index of internal.jobs, as the statistics collector has them."""
    rows = await admin.fetch(
        "select indexrelname, idx_scan, idx_tup_read from pg_stat_user_indexes "
        "where schemaname = 'internal' and relname = 'jobs'"
    )
    return {row["indexrelname"]: (row["idx_scan"], row["idx_tup_read"]) for row in rows}


async def entries_read_since(
    admin: asyncpg.Connection, before: dict[str, tuple[int, int]], claims: int
) -> dict[str, int]:
    """Index entries read per index of internal.jobs since `before`, once the `claims` claims' statistics
    are in (a session's are flushed when it ends); asserts each claim walked jobs_fair_idx."""
    for _ in range(100):
        after = await jobs_index_use(admin)
        if after["jobs_fair_idx"][0] >= before["jobs_fair_idx"][0] + claims:
            break
        await asyncio.sleep(0.05)
    read = {name: after[name][1] - before[name][1] for name in after}
    assert after["jobs_fair_idx"][0] >= before["jobs_fair_idx"][0] + claims, read
    return read


async def test_a_claim_reads_what_it_takes_not_the_backlog_with_statistics_from_a_quiet_moment(
    database: str, admin: asyncpg.Connection, kind: str
) -> None:
    """After an outage the queue can hold thousands of jobs while the planner's statistics still say it is
    empty. A claim must still walk jobs_fair_idx in order and look each candidate's ordering key up in
    jobs_ordering_idx. (It read jobs_user_id_idx whole instead, once for every candidate: 20261210001200.)"""
    await admin.execute("alter table internal.jobs set (autovacuum_enabled = off)")
    try:
        # History: 100 conversations of 50 replies each, all done and vacuumed; analyzed with none active.
        await admin.execute(
            "insert into internal.jobs (kind, payload, ordering_key) "
            "select $1, jsonb_build_object('user_id', u), 'conversation:' || u "
            "from (select gen_random_uuid() as u from generate_series(1, 100)) users, generate_series(1, 50)",
            kind,
        )
        await admin.execute("update internal.jobs set status = 'succeeded', finished_at = now() where kind = $1", kind)
        await admin.execute("vacuum internal.jobs")
        await admin.execute("analyze internal.jobs")
        # Then a backlog of 2,000 conversations' messages before the next analyze.
        await admin.execute(
            "insert into internal.jobs (kind, payload, ordering_key) "
            "select $1, jsonb_build_object('user_id', u), 'conversation:' || u "
            "from (select gen_random_uuid() as u from generate_series(1, 2000)) users",
            kind,
        )
        before = await jobs_index_use(admin)
        conn = await asyncpg.connect(authenticator(database))  # a new session plans under these statistics
        try:
            worker = ServiceRole(conn)
            claimed = [await claim(worker, "w", kind, limit=16) for _ in range(8)]  # custom plans, then generic
        finally:
            await conn.close()  # a session's pending statistics are flushed when it ends
        assert all(len(ids) == 16 for ids in claimed)
        read = await entries_read_since(admin, before, 8)
        assert sum(read.values()) < 1000, read  # 128 jobs taken from 2,000 (the bad plans read ~20,000)
    finally:
        await admin.execute("delete from internal.jobs where kind = $1", kind)
        await admin.execute("alter table internal.jobs reset (autovacuum_enabled)")
        await admin.execute("analyze internal.jobs")


async def test_a_claim_walks_the_backlog_in_order_with_statistics_from_the_middle_of_a_drain(
    database: str, admin: asyncpg.Connection, kind: str
) -> None:
    """Statistics taken while a backlog drains (few jobs left, most finished) must not make the claim collect
    every due job and sort them (20261210001400): it walks jobs_fair_idx in order and stops."""
    await admin.execute("alter table internal.jobs set (autovacuum_enabled = off)")
    conn = await asyncpg.connect(authenticator(database))
    try:
        worker = ServiceRole(conn)
        await admin.execute(
            "insert into internal.jobs (kind, payload) select $1, jsonb_build_object('n', g) "
            "from generate_series(1, 3000) g",
            kind,
        )
        finished: list[dict[str, object]] = []
        for _ in range(58):  # drained as a worker drains it, each batch finished with the next claim
            answer = await claim_jobs(worker, "w", kind, limit=50, finish=finished)
            finished = [{"id": job["id"], "output": {}} for job in answer["jobs"]]  # type: ignore[attr-defined]
        await claim_jobs(worker, "w", kind, limit=0, finish=finished)  # 100 left queued
        await admin.execute("analyze internal.jobs")  # autoanalyze, in the middle of the drain
        await admin.execute(
            "insert into internal.jobs (kind, payload) select $1, jsonb_build_object('n', g) "
            "from generate_series(1, 3000) g",
            kind,
        )
        before = await jobs_index_use(admin)
        fresh = await asyncpg.connect(authenticator(database))
        try:
            for _ in range(8):
                assert len(await claim(ServiceRole(fresh), "w2", kind, limit=10)) == 10
        finally:
            await fresh.close()
        read = await entries_read_since(admin, before, 8)
        assert sum(read.values()) < 2000, read  # 80 jobs taken from 3,100 (~300; collecting and sorting: 3,162)
    finally:
        await conn.close()
        await admin.execute("delete from internal.jobs where kind = $1", kind)
        await admin.execute("alter table internal.jobs reset (autovacuum_enabled)")
        await admin.execute("analyze internal.jobs")


@pytest.mark.parametrize("role", ["anon", "authenticated"])
async def test_api_roles_cannot_touch_the_queue(database: str, role: str) -> None:
    conn = await asyncpg.connect(authenticator(database))
    try:
        for sql in (
            "select public.claim_jobs_v4('x', array['chat_reply'])",
            "select public.fail_job_v1(1, 'x', 'e')",
            "select public.extend_job_lease_v1(1, 'x')",
            "select public.release_job_v1(1, 'x')",
            "select * from internal.job_kinds",
            "select * from internal.jobs",
            "select internal.enqueue_job('chat_reply', '{}'::jsonb)",
        ):
            async with conn.transaction():
                await conn.execute(f"set local role {role}")
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.fetch(sql)
    finally:
        await conn.close()
