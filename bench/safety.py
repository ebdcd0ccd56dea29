"""Safety and usage limits: what they add to a reply and to a message insert.

1. First delta with safety on vs off. Every message is assessed by the classifier before its reply's
   text may leave the worker; the fake model's classifier answers after a fixed BENCH_SAFETY_CLASSIFIER_MS
   and its coaching stream starts at once (TTFT 0), so the assessment is what the first delta waits for.
   Deltas are batched every 5 ms on both sides, so that each side's first text goes out as soon as it
   may. The same think-time phase (BENCH_SAFETY_USERS conversations, insert → first delta) runs on this code
   and, with safety off, on BENCH_SAFETY_BASELINE (the commit before safety and limits: no classifier at
   all) and on this code with every message cleared in its own insert (`NO_CLASSIFIER`, applied to that
   side's database only: no classifier job, no wait), each with its own Postgres, gateway and worker, taking
   turns. The added overhead beyond the classifier's own time is p50(on) - p50(off) - the classifier's time
   (target ≤ 10 ms), reported against both.
2. The limit check on a message insert. Inserting a user message as the user does (role authenticated,
   in SQL), with the limit check (internal.reserve_usage: plan, limits, the day's counters, the month's
   sum) and without it (chat_reply made unmetered inside the transaction), statement by statement in
   turns; the counters exist already, as after a user's first message of the day. Each insert is rolled
   back. Cost = p50 with - p50 without (target ≤ 0.5 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import asyncpg

from bench import Figure, Section, percentile
from bench._stack import checkout, execute, postgres
from bench.pipeline import _figure, _stack, _taking_turns
from devstack.settings import REPO_ROOT

USERS = int(os.environ.get("BENCH_SAFETY_USERS", "100"))
# Phases per side, and messages a user in each. The figure is a difference of two p50s, and the VM's speed
# drifts between phases: with two phases of five messages a side, six runs in one afternoon gave -1.8 to
# 17.4 ms. Many short phases taking turns average it (bench.pipeline._taking_turns).
ROUNDS = int(os.environ.get("BENCH_SAFETY_ROUNDS", "8"))
MESSAGES = int(os.environ.get("BENCH_SAFETY_MESSAGES", "3"))
CLASSIFIER_MS = float(os.environ.get("BENCH_SAFETY_CLASSIFIER_MS", "100"))
# The last commit before safety, usage limits and fair queueing (issue 17).
BASELINE = os.environ.get("BENCH_SAFETY_BASELINE", "dc38ac1")
INSERTS = int(os.environ.get("BENCH_SAFETY_INSERTS", "1000"))
TPS = 400.0
FIRST_TEXT_AT_ONCE = "update internal.settings set value = '5' where key = 'reply.delta_interval_ms'"
# Safety off on this code, for the benchmark's own database: every message is cleared in its insert, as if
# the rules and a classifier had both found nothing, so its reply streams at once. Never shipped.
NO_CLASSIFIER = """
create or replace function internal.start_safety_assessment(p_message public.messages) returns boolean
  language plpgsql set search_path = '' as $$
begin
  insert into internal.safety_assessments
    (message_id, user_id, source, risk_level, categories, rule_ids, guidance, model, prompt_version)
  values (p_message.id, p_message.user_id, 'rule', 'none', '{}', '{}', '{}', null, null),
         (p_message.id, p_message.user_id, 'model', 'none', '{}', '{}', '{}', 'bench', 'bench@v0');
  perform internal.decide_message_safety(p_message.id);
  return false;
end $$;
"""


def _first_deltas(tmp: Path, baseline: Path | None) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"on": [], "off": [], "off_here": []}
    roots = {"on": REPO_ROOT, "off_here": REPO_ROOT, **({"off": baseline} if baseline else {})}
    fake = ("--classifier-ms", str(CLASSIFIER_MS))
    with contextlib.ExitStack() as stacks:
        opened = {name: stacks.enter_context(_stack(tmp / name, 0, TPS, root, fake)) for name, root in roots.items()}
        for stack in opened.values():  # the first text goes out as soon as it may, on every side
            asyncio.run(execute(stack.dsn, FIRST_TEXT_AT_ONCE))
        asyncio.run(execute(opened["off_here"].dsn, NO_CLASSIFIER))
        turns = asyncio.run(_taking_turns(opened, USERS, ROUNDS, MESSAGES))
        for name, phases in turns.items():
            samples[name] += [delta for phase in phases for delta in phase.timings.first_delta]
    return samples


async def _inserts(dsn: str) -> tuple[list[float], list[float]]:
    conn = await asyncpg.connect(dsn)
    try:
        user = uuid.uuid4()
        await conn.execute(
            "insert into auth.users (id, email, aud, role) values ($1, $2, 'authenticated', 'authenticated')",
            user,
            f"{user}@example.com",
        )
        await conn.execute("select public.set_user_plan($1, 'free')", user)
        await conn.execute(
            'insert into internal.user_limit_overrides (user_id, metric, period, "limit") '
            "values ($1, 'messages', 'day', 1000000), ($1, 'ai_jobs', 'day', 1000000)",
            user,
        )
        coach = await conn.fetchval("select id from public.coaches where is_active order by sort_order limit 1")
        conversation = await conn.fetchval(
            "insert into public.conversations (user_id, coach_id) values ($1, $2) returning id", user, coach
        )
        claims = json.dumps({"role": "authenticated", "sub": str(user)})
        insert = "insert into public.messages (conversation_id, content) values ($1, 'How was my week?')"

        async def one(checked: bool) -> float:
            async with conn.transaction():
                if not checked:  # the kind unmetered for this transaction (DML: no plan is invalidated)
                    await conn.execute(
                        "update internal.job_kinds set metered = false, ask_metric = null where name = 'chat_reply'"
                    )
                await conn.execute("select set_config('role', 'authenticated', true)")
                await conn.execute("select set_config('request.jwt.claims', $1, true)", claims)
                started = time.perf_counter()
                await conn.execute(insert, conversation)
                elapsed = (time.perf_counter() - started) * 1000
                raise _Rollback(elapsed)

        async def timed(checked: bool) -> float:
            try:
                await one(checked)
            except _Rollback as done:
                return done.elapsed
            raise AssertionError("unreachable")

        async with conn.transaction():  # the day's and month's counters exist, as after a first message
            await conn.execute("select set_config('role', 'authenticated', true)")
            await conn.execute("select set_config('request.jwt.claims', $1, true)", claims)
            await conn.execute(insert, conversation)
        with_check: list[float] = []
        without: list[float] = []
        for i in range(INSERTS * 2):
            (with_check if i % 2 == 0 else without).append(await timed(i % 2 == 0))
        return with_check, without
    finally:
        await conn.close()


class _Rollback(Exception):
    def __init__(self, elapsed: float) -> None:
        self.elapsed = elapsed


def run() -> Section:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with tempfile.TemporaryDirectory(prefix="bench-safety-") as tmp, checkout(BASELINE) as baseline:
            deltas = _first_deltas(Path(tmp), baseline)
            with postgres(Path(tmp) / "limits") as dsn:
                with_check, without = asyncio.run(_inserts(dsn))
    on = _figure(
        f"insert → first delta, safety on (classifier answers in {CLASSIFIER_MS:.0f} ms; {USERS} conversations)",
        deltas["on"],
    )
    figures = [on]
    targets: dict[str, str] = {}
    notes = [
        f"{USERS} users x {MESSAGES} messages thinking 0.5-1.5 s, {ROUNDS} phases per side taking turns (each side's"
        f" users signed up and warmed up once); the fake model's"
        f" coaching stream starts at once (TTFT 0, {TPS:.0f} tokens/s), its classifier answers after"
        f" {CLASSIFIER_MS:.0f} ms",
    ]
    here = _figure(
        "insert → first delta, safety off: this code, every message cleared in its insert", deltas["off_here"]
    )
    figures.append(here)
    added_here = on.p50_ms - here.p50_ms - CLASSIFIER_MS
    figures.append(Figure("added beyond the classifier's time, p50, against this code off", added_here, 0.0))
    targets["safety adds ≤ 10 ms beyond the classifier's time at p50 (against this code off)"] = (
        "met" if added_here <= 10 else f"missed ({added_here:.1f} ms)"
    )
    if deltas["off"]:
        off = _figure(f"insert → first delta, safety off (before issue 17: {BASELINE})", deltas["off"])
        figures.append(off)
        added = on.p50_ms - off.p50_ms - CLASSIFIER_MS
        figures.append(Figure(f"added beyond the classifier's time, p50, against {BASELINE}", added, 0.0))
        targets[f"safety adds ≤ 10 ms beyond the classifier's time at p50 (against {BASELINE})"] = (
            "met" if added <= 10 else f"missed ({added:.1f} ms)"
        )
    else:
        notes.append("no baseline this run (BENCH_SAFETY_BASELINE empty or not a revision of this clone)")
    notes.append(
        "this code off: the benchmark's database only replaces internal.start_safety_assessment so that every"
        " message is assessed none by rules and model in its insert; the insert still writes both assessments and"
        " the decision, so the figure is what the classifier's wait and its finish cost. The baseline also lacks"
        " everything else added since (limits, fair claims, the job-kind contract)"
    )
    checked = _figure("message insert with the limit check (SQL, as the user)", with_check)
    plain = _figure("message insert without it (chat_reply unmetered)", without)
    cost = percentile(with_check, 0.5) - percentile(without, 0.5)
    figures += [checked, plain, Figure("the limit check's cost, p50 (with - without)", cost, 0.0)]
    targets["limit check ≤ 0.5 ms at p50"] = "met" if cost <= 0.5 else f"missed ({cost:.2f} ms)"
    notes.append(
        f"{INSERTS} inserts each way, alternating, each rolled back; the insert also runs the message's own triggers"
        " (rules pass, reply placeholder, the assessment and reply jobs)"
    )
    return Section("Safety on vs off, and the usage-limit check", figures, targets=targets, notes=notes)
