"""`make chaos`: break things while users chat, then prove nothing was lost or duplicated.

Starts its own embedded Postgres (migrations + seed), gateway, fake model and workers. Simulated users
(supabase-py) keep sending messages, some scripted to make the model fail (429, 529, 500, a stall past
the worker's timeout, a stream cut mid-reply, an in-stream overload); a third of them talk to the
planner coach, whose replies call a tool (add_plan_item, each with a title of its own). Meanwhile a
chaos loop SIGKILLs random workers (and starts replacements), restarts Postgres, and restarts the
gateway (cutting every Realtime connection). Then it stops the chaos, lets the workers drain, and checks
in the database:

  * every user message has exactly one assistant message;
  * every assistant message is complete, or failed with a reason;
  * no tool call's effect happened twice (each title is in one plan item at most), and no complete
    reply has a tool call that never ran;
  * no job is stuck past its lease, and none is left queued.

    python -m devtools.chaos [--seconds 120] [--users 12] [--workers 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from supabase import AsyncClientOptions, acreate_client

from devstack import migrate
from devstack.postgres import EmbeddedPostgres, free_port
from devstack.settings import REPO_ROOT, DevstackSettings

log = logging.getLogger("devtools.chaos")
SETTINGS = DevstackSettings()
PASSWORD = SETTINGS.db_password.get_secret_value()
MARKERS = ["", "", "", "", "[[429]] ", "[[529]] ", "[[500]] ", "[[break]] ", "[[overloaded]] ", "[[timeout]] "]


@dataclass
class Report:
    sent: int = 0
    send_errors: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    drain_seconds: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        lines = [
            "",
            "chaos report",
            "------------",
            f"user messages sent: {self.sent} (send errors: {self.send_errors})",
            f"backlog drained in: {self.drain_seconds} s",
        ]
        lines += [f"{name}: {count}" for name, count in sorted(self.actions.items())]
        lines += [f"{name}: {count}" for name, count in self.counts.items()]
        lines += [f"PROBLEM: {p}" for p in self.problems] or ["invariants: all hold"]
        return "\n".join(lines)


class Processes:
    """The stack's processes, each restartable."""

    def __init__(self, tmp: Path, dsn: str, workers: int) -> None:
        self.tmp, self.dsn = tmp, dsn
        self.api_port, self.llm_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.gateway: subprocess.Popen[bytes] | None = None
        self.llm: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.worker_count = workers
        self.serial = 0

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.tmp / f"{name}.log").open("ab") as out:
            return subprocess.Popen(
                args, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
            )

    def start_gateway(self) -> None:
        env = {"DATABASE_URL": self.dsn, "DEVSTACK_API_PORT": str(self.api_port), "DEVSTACK_MAIL_PORT": "0"}
        self.gateway = self._spawn("gateway", [sys.executable, "-m", "devstack", "gateway"], env)
        _wait_http(f"{self.url}/health", 30)

    def start_llm(self) -> None:
        args = [
            sys.executable,
            "-m",
            "devtools.fake_llm",
            "--port",
            str(self.llm_port),
            "--tokens-per-second",
            "400",
            "--slow-chunk-seconds",
            "0.2",
            "--timeout-seconds",
            "8",
        ]
        self.llm = self._spawn("fake-llm", args, {})
        _wait_http(f"http://127.0.0.1:{self.llm_port}/_stats", 30)

    def start_worker(self) -> None:
        self.serial += 1
        name = f"chaos-worker-{self.serial}"
        env = {
            "SUPABASE_URL": self.url,
            "SUPABASE_SERVICE_ROLE_KEY": SETTINGS.service_role_key,
            "ANTHROPIC_API_KEY": "sk-fake",
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{self.llm_port}",
            "COACHBASE_WORKER_ID": name,
            "COACHBASE_LEASE_SECONDS": "5",
            "COACHBASE_SWEEP_SECONDS": "1",
            "COACHBASE_LLM_TIMEOUT_SECONDS": "4",
            "COACHBASE_METRICS_PORT": "0",
            "COACHBASE_LOG_FORMAT": "text",
        }
        self.workers[name] = self._spawn(name, [sys.executable, "-m", "workers"], env)

    def kill_random_worker(self) -> None:
        name = random.choice(sorted(self.workers))
        proc = self.workers.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        self.start_worker()

    def restart_gateway(self) -> None:
        assert self.gateway is not None
        self.gateway.send_signal(signal.SIGKILL)
        self.gateway.wait(10)
        self.start_gateway()

    def stop(self) -> None:
        for proc in [*self.workers.values(), self.gateway, self.llm]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in [*self.workers.values(), self.gateway, self.llm]:
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(15)


def _wait_http(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            httpx.get(url, timeout=1)
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _text(report: Report, agent: bool) -> str:
    text = f"{random.choice(MARKERS)}message {report.sent} at {time.time():.1f}"
    if agent:  # the reply calls a tool whose effect must happen exactly once
        text += f' [[call:add_plan_item {{"title": "chaos {uuid.uuid4().hex}"}}]]'
    return text


async def _user_loop(url: str, stop: asyncio.Event, report: Report, coach_id: str, agent: bool) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        client = await acreate_client(
            url, SETTINGS.anon_key, AsyncClientOptions(auto_refresh_token=False, httpx_client=http)
        )
        await client.auth.sign_up(
            {"email": f"chaos-{uuid.uuid4().hex[:10]}@example.com", "password": "a-long-password"}
        )
        conversation: str | None = None
        while not stop.is_set():
            try:
                if conversation is None:
                    rows: Any = (await client.table("conversations").insert({"coach_id": coach_id}).execute()).data
                    conversation = rows[0]["id"]
                text = _text(report, agent)
                await client.table("messages").insert({"conversation_id": conversation, "content": text}).execute()
                report.sent += 1
            except Exception:
                report.send_errors += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), random.uniform(0.3, 1.5))


DRAIN_CAP_SECONDS = 600

ACTIONS = ("kill_worker", "restart_gateway", "kill_worker", "restart_postgres")


async def _chaos_loop(
    procs: Processes, pg: EmbeddedPostgres, stop: asyncio.Event, report: Report, every: tuple[float, float]
) -> None:
    """Break something every few seconds, cycling through ACTIONS so each kind happens."""
    step = 0
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), random.uniform(*every))
        if stop.is_set():
            return
        action = ACTIONS[step % len(ACTIONS)]
        step += 1
        log.warning("chaos: %s", action)
        report.actions[action] = report.actions.get(action, 0) + 1
        if action == "kill_worker":
            await asyncio.to_thread(procs.kill_random_worker)
        elif action == "restart_gateway":
            await asyncio.to_thread(procs.restart_gateway)
        else:
            await asyncio.to_thread(pg.stop, "fast")
            await asyncio.sleep(0.5)
            await asyncio.to_thread(pg.start)


async def _check(dsn: str, report: Report, drain_seconds: float) -> None:
    """Wait while the backlog drains (for as long as jobs keep finishing, or until none is open), then
    check the invariants. Replies of one conversation run one at a time, and the scripted failures retry
    with backoff, so a burst of sends can take a while to work off: only a drain that stops making
    progress for `drain_seconds` counts as stuck."""
    conn = await _connect(dsn, 30)
    try:
        started = time.monotonic()
        last_open, last_progress = None, time.monotonic()
        while time.monotonic() - last_progress < drain_seconds and time.monotonic() - started < DRAIN_CAP_SECONDS:
            open_jobs = await conn.fetchval(
                "select count(*) from internal.jobs where status in ('queued', 'running', 'failed')"
            )
            if open_jobs == 0:
                break
            if last_open is None or open_jobs < last_open:
                last_open, last_progress = open_jobs, time.monotonic()
            await asyncio.sleep(1)
        report.drain_seconds = round(time.monotonic() - started)
        row = await conn.fetchrow(
            """
            select
              (select count(*) from public.messages where role = 'user') as user_messages,
              (select count(*) from public.messages where role = 'assistant') as assistant_messages,
              (select count(*) from public.messages where role = 'assistant' and status = 'complete') as complete,
              (select count(*) from public.messages where role = 'assistant' and status = 'failed') as failed,
              (select count(*) from public.messages m where m.role = 'user'
                  and (select count(*) from public.messages r where r.reply_to = m.id) <> 1) as not_exactly_one,
              (select count(*) from public.messages where role = 'assistant'
                  and (status not in ('complete', 'failed') or (status = 'failed' and coalesce(error, '') = '')))
                  as unfinished,
              (select count(*) from internal.jobs where status = 'running' and lease_until < now()) as stuck,
              (select count(*) from internal.jobs where status in ('queued', 'failed')) as still_queued,
              (select count(*) from internal.jobs where status = 'dead') as dead_jobs,
              (select coalesce(max(attempts), 0) from internal.jobs) as max_attempts,
              (select count(*) from public.tool_calls where status = 'succeeded') as tool_calls_run,
              (select count(*) from (select 1 from public.plan_items group by user_id, title having count(*) > 1) d)
                  as duplicated_effects,
              (select count(*) from public.tool_calls c join public.messages m on m.id = c.message_id
                where c.status = 'pending' and m.status = 'complete') as calls_never_run,
              (select count(*) from internal.ai_usage) as model_calls_in_the_ledger,
              -- recorded by a worker whose attempt failed or lost its lease (record_spent_calls_v1)
              (select count(*) from internal.ai_usage where subject_id is null and job_id is not null)
                  as calls_of_attempts_that_did_not_finish
            """
        )
    finally:
        await conn.close()
    report.counts = {k: int(v) for k, v in dict(row).items()}
    for key, what in (
        ("not_exactly_one", "user messages without exactly one assistant message"),
        ("unfinished", "assistant messages neither complete nor failed with a reason"),
        ("stuck", "jobs running past their lease"),
        ("still_queued", "jobs still queued after the drain"),
        ("duplicated_effects", "tool call effects that happened more than once"),
        ("calls_never_run", "tool calls of complete replies that never ran"),
    ):
        if report.counts[key]:
            report.problems.append(f"{report.counts[key]} {what}")


async def _connect(dsn: str, seconds: float) -> asyncpg.Connection:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def run_chaos(
    seconds: float, users: int, workers: int, drain_seconds: float = 90, every: tuple[float, float] = (3, 7)
) -> Report:
    report = Report()
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp_name:
        tmp = Path(tmp_name)
        pg = EmbeddedPostgres(tmp / "pgdata", free_port(), PASSWORD)
        pg.start()
        procs = Processes(tmp, pg.dsn(), workers)
        try:
            await migrate.reset(pg.dsn(), PASSWORD, REPO_ROOT / "supabase")
            # Chaos tests delivery, not plans: every user on the premium plan (no usage limits).
            await _execute(
                pg.dsn(),
                "update internal.plans set is_default = false where is_default; "
                "update internal.plans set is_default = true where name = 'premium'",
            )
            await asyncio.to_thread(procs.start_llm)
            await asyncio.to_thread(procs.start_gateway)
            for _ in range(workers):
                procs.start_worker()
            conn = await asyncpg.connect(pg.dsn())
            coach_id = str(await conn.fetchval("select id from public.coaches order by sort_order limit 1"))
            planner_id = str(await conn.fetchval("select id from public.coaches where slug = 'ada'"))
            await conn.close()
            stop = asyncio.Event()
            tasks = [
                asyncio.create_task(
                    _user_loop(procs.url, stop, report, planner_id if n % 3 == 0 else coach_id, n % 3 == 0)
                )
                for n in range(users)
            ]
            tasks.append(asyncio.create_task(_chaos_loop(procs, pg, stop, report, every)))
            await asyncio.sleep(seconds)
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await _check(pg.dsn(), report, drain_seconds)
        finally:
            procs.stop()
            pg.stop("immediate")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.chaos", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--users", type=int, default=12)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    report = asyncio.run(run_chaos(args.seconds, args.users, args.workers))
    print(report.render())
    return 0 if report.ok else 1


async def _execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


if __name__ == "__main__":
    sys.exit(main())
