"""Children shared by caregivers: the membership helper's cost, a report to PDF, a video's frames.

1. A caregiver's child-scoped history (the latest 50 journal entries of a child) under the membership
   helper (`child_id = any ((select access.member_child_ids('viewer'))::uuid[])`) against the same rows in
   a table with an owner-only policy (`user_id = (select auth.uid())`), at 10,000 families, side by side
   query by query; the service role (no RLS) beside them. EXPLAIN as the caregiver shows the plans.
2. A report to PDF: typst's render of a Hebrew report alone, and the journey_report job end to end (row
   inserted → status ready, the database's own timestamps) with the fake model answering at once.
3. A video's frames: sampling 8 frames (and measuring the length) of a one-minute 640x360 H.264 clip with
   imageio-ffmpeg's ffmpeg.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from bench import Figure, Section, percentile
from bench._stack import PASSWORD, SETTINGS, gateway, postgres, process, wait_http
from devstack.db import role_dsn
from devstack.postgres import free_port
from devstack.settings import REPO_ROOT
from shared.report_pdf import ReportPage, render
from shared.video import ffmpeg, sample_frames

FAMILIES = int(os.environ.get("BENCH_CHILDREN_FAMILIES", "10000"))
ENTRIES = int(os.environ.get("BENCH_CHILDREN_ENTRIES", "50"))  # journal entries per child
COUNT = int(os.environ.get("BENCH_CHILDREN_COUNT", "2000"))
RENDERS = int(os.environ.get("BENCH_CHILDREN_RENDERS", "50"))
REPORTS = int(os.environ.get("BENCH_CHILDREN_REPORTS", "10"))
CLIP_SECONDS = int(os.environ.get("BENCH_CHILDREN_CLIP_SECONDS", "60"))
SAMPLINGS = int(os.environ.get("BENCH_CHILDREN_SAMPLINGS", "10"))
WARMUP = 100
SAMPLE = 200
SETUP_SQL = "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)"
HELPER_SQL = (
    "select * from public.journal_entries where child_id = $1 order by entry_date desc, created_at desc limit 50"
)
OWNER_SQL = (
    "select * from public.bench_owner_journal where user_id = $1 order by entry_date desc, created_at desc limit 50"
)
LOAD_SQL = """
set local session_replication_role = replica;  -- no triggers (journeys, updated_at), no FK checks
create temporary table fam on commit drop as
  select g as n, gen_random_uuid() as child, gen_random_uuid() as owner, gen_random_uuid() as caregiver
    from generate_series(1, $families) g;
insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
  select '00000000-0000-0000-0000-000000000000', u.id, 'authenticated', 'authenticated', u.id || '@example.com', '',
         now(), '{"provider": "email"}', '{}', now(), now()
    from (select owner as id from fam union all select caregiver from fam) u;
insert into public.children (id, name, date_of_birth, created_by)
  select child, 'Child ' || n, '2024-01-01', owner from fam;
insert into public.child_members (child_id, user_id, role)
  select child, owner, 'owner'::public.child_member_role from fam
  union all select child, caregiver, 'caregiver' from fam;
-- Entry k of every child, then entry k + 1: a child's entries are spread over the table as families write.
insert into public.journal_entries (child_id, author_id, entry_date, content, tags, created_at, updated_at)
  select f.child, f.owner, date '2025-01-01' + k, 'Day ' || k || ': ' || repeat('slept well, played with blocks. ', 3),
         '{sleep,play}', now() - ($entries - k) * interval '1 day', now()
    from generate_series(1, $entries) k cross join fam f order by k, f.n;
-- The owner-only baseline: the same rows, each owned by the caregiver, under user_id = (select auth.uid()).
create table public.bench_owner_journal (like public.journal_entries including defaults);
alter table public.bench_owner_journal add column user_id uuid not null;
insert into public.bench_owner_journal
  select e.*, f.caregiver from public.journal_entries e join fam f on f.child = e.child_id order by e.created_at;
create index bench_owner_journal_user_idx on public.bench_owner_journal (user_id, entry_date desc, created_at desc);
alter table public.bench_owner_journal enable row level security;
create policy "Owners read their journal" on public.bench_owner_journal for select to authenticated
  using (user_id = (select auth.uid()));
grant select on public.bench_owner_journal to authenticated, service_role;
"""


async def _load(dsn: str) -> tuple[float, int, list[tuple[str, str]]]:
    """The families; seconds, entries, and a sample of (child, caregiver)."""
    sql = LOAD_SQL.replace("$families", str(FAMILIES)).replace("$entries", str(ENTRIES))
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(sql)
        await conn.execute(
            "vacuum (analyze) auth.users, public.children, public.child_members, public.journal_entries, "
            "public.bench_owner_journal"
        )
        seconds = time.perf_counter() - started
        count = await conn.fetchval("select count(*) from public.journal_entries")
        rows = await conn.fetch(
            "select child_id::text, user_id::text from public.child_members where role = 'caregiver' "
            "order by random() limit $1",
            SAMPLE,
        )
    finally:
        await conn.close()
    return seconds, count, [(r["child_id"], r["user_id"]) for r in rows]


def _claims(user: str) -> str:
    return json.dumps({"sub": user, "role": "authenticated", "aud": "authenticated"})


async def _queries(dsn: str, sample: list[tuple[str, str]]) -> list[Figure]:
    """Helper, owner-only and service role, query by query in turn; each statement timed inside the
    transaction PostgREST would open (role and claims set first)."""
    conns = [await asyncpg.connect(role_dsn(dsn, "authenticator", PASSWORD)) for _ in range(3)]
    names = (
        "caregiver, membership helper (journal_entries by child)",
        "the same user, owner-only policy (bench_owner_journal by user)",
        "service role, no RLS (journal_entries by child)",
    )
    samples: list[list[float]] = [[], [], []]
    expected = min(50, ENTRIES)
    try:
        for i in range(COUNT + WARMUP):
            child, caregiver = sample[i % len(sample)]
            runs = (
                (conns[0], "authenticated", _claims(caregiver), HELPER_SQL, child),
                (conns[1], "authenticated", _claims(caregiver), OWNER_SQL, caregiver),
                (conns[2], "service_role", json.dumps({"role": "service_role"}), HELPER_SQL, child),
            )
            for (conn, role, claims, sql, arg), kept in zip(runs, samples, strict=True):
                async with conn.transaction():
                    await conn.execute(SETUP_SQL, role, claims)
                    started = time.perf_counter()
                    rows = await conn.fetch(sql, arg)
                    elapsed = (time.perf_counter() - started) * 1000
                assert len(rows) == expected, (sql, len(rows))
                if i >= WARMUP:
                    kept.append(elapsed)
    finally:
        for conn in conns:
            await conn.close()
    return [_figure(name, kept) for name, kept in zip(names, samples, strict=True)]


async def _explain(dsn: str, child: str, caregiver: str) -> list[str]:
    conn = await asyncpg.connect(role_dsn(dsn, "authenticator", PASSWORD))
    notes = []
    try:
        for title, sql, arg in (("membership helper", HELPER_SQL, child), ("owner-only", OWNER_SQL, caregiver)):
            async with conn.transaction():
                await conn.execute(SETUP_SQL, "authenticated", _claims(caregiver))
                plan = [r[0] for r in await conn.fetch(f"explain (analyze, costs off, timing off) {sql}", arg)]
            keys = [line.strip() for line in plan if re.search(r"(Index|Seq Scan|InitPlan|Filter|Cond)", line)]
            notes.append(f"EXPLAIN as the caregiver, {title}: " + " | ".join(keys))
    finally:
        await conn.close()
    return notes


def _figure(name: str, samples: list[float]) -> Figure:
    return Figure(
        name, percentile(samples, 0.5), percentile(samples, 0.99), 1000 * len(samples) / sum(samples), len(samples)
    )


REPORT = {
    "title": "המסע של נועה עד עכשיו",
    "summary": "נועה בת שנתיים וחצי, סקרנית ושמחה. היא מבינה הרבה ממה שאומרים לה ומשתמשת בכעשרים מילים.",
    "sections": [
        {
            "heading": f"תחום {n}",
            "body": "נועה מבינה הוראות בשני שלבים ונהנית ממשחק משותף. " * 6,
            "points": ["מצביעה כדי לבקש", "מחקה צלילים", "בונה מגדל קוביות"],
        }
        for n in range(1, 7)
    ],
    "strengths": ["קשר עין טוב", "ריכוז במשחק"],
    "recommendations": ["פגישה עם קלינאית תקשורת", "קריאה משותפת בכל ערב"],
    "questions_for_professionals": ["האם כדאי לבדוק שמיעה?"],
    "disclaimer": "הדוח מתאר תצפיות ואינו אבחנה.",
}


def _renders() -> Figure:
    page = ReportPage("נועה", 30, "parent", "he", "2026-12-07")
    render(REPORT, page)  # fonts loaded once
    samples = []
    for _ in range(RENDERS):
        started = time.perf_counter()
        pdf = render(REPORT, page)
        samples.append((time.perf_counter() - started) * 1000)
    assert pdf.startswith(b"%PDF-")
    return _figure("report to PDF: typst render alone (Hebrew, 6 sections)", samples)


async def _report_jobs(dsn: str) -> list[float]:
    """Reports asked one after another; each one's insert → ready, from the row's own timestamps."""
    conn = await asyncpg.connect(dsn)
    try:
        child = await conn.fetchval("select id from public.children order by id limit 1")
        owner = await conn.fetchval("select created_by from public.children where id = $1", child)
        await conn.execute("update public.children set notes = '' where id = $1", child)
        samples = []
        for n in range(REPORTS + 1):
            report = await conn.fetchval(
                "insert into public.reports (child_id, requested_by, language, focus) "
                "values ($1, $2, 'he', $3) returning id",
                child,
                owner,
                f"Report {n} [[replay:anthropic_report_parent_he]]",  # a prompt of its own: the fake counts repeats
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                row = await conn.fetchrow(
                    "select status, created_at, ready_at from public.reports where id = $1", report
                )
                if row["status"] in ("ready", "error"):
                    break
                await asyncio.sleep(0.005)
            assert row["status"] == "ready", row
            samples.append((row["ready_at"] - row["created_at"]).total_seconds() * 1000)
        return samples[1:]  # the first warms the worker (imports typst, loads fonts)
    finally:
        await conn.close()


def _report_end_to_end(dsn: str, tmp: Path) -> Figure:
    llm_port = free_port()
    llm = f"http://127.0.0.1:{llm_port}"
    fake = [sys.executable, "-m", "devtools.fake_llm", "--port", str(llm_port),
            "--recordings", str(REPO_ROOT / "tests" / "llm" / "recordings")]  # fmt: skip
    with process(fake, {}, tmp / "fake.log"), gateway(dsn, tmp) as (url, _):
        wait_http(f"{llm}/_stats")
        env = {
            "SUPABASE_URL": url,
            "SUPABASE_SERVICE_ROLE_KEY": SETTINGS.service_role_key,
            "ANTHROPIC_API_KEY": "sk-fake",
            "ANTHROPIC_BASE_URL": llm,
            "COACHBASE_METRICS_PORT": "0",
            "COACHBASE_LOG_FORMAT": "text",
        }
        with process([sys.executable, "-m", "workers"], env, tmp / "worker.log"):
            samples = asyncio.run(_report_jobs(dsn))
    return _figure("report to PDF: journey_report job end to end (insert → ready; model answers at once)", samples)


def _frames(tmp: Path) -> Figure:
    clip = tmp / "clip.mp4"
    subprocess.run(
        [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc=duration={CLIP_SECONDS}:size=640x360:rate=25", "-c:v", "libx264", "-preset", "veryfast",
         "-pix_fmt", "yuv420p", str(clip)],
        check=True,
    )  # fmt: skip
    samples = []
    for _ in range(SAMPLINGS):
        started = time.perf_counter()
        frames = asyncio.run(sample_frames(clip, 8))
        samples.append((time.perf_counter() - started) * 1000)
    assert len(frames.images) == 8
    return _figure(f"video: 8 frames + length of a {CLIP_SECONDS} s 640x360 H.264 clip (imageio-ffmpeg)", samples)


def run() -> Section:
    with tempfile.TemporaryDirectory(prefix="bench-children-") as folder, postgres(Path(folder)) as dsn:
        tmp = Path(folder)
        seconds, count, sample = asyncio.run(_load(dsn))
        helper, owner_only, service = asyncio.run(_queries(dsn, sample))
        plans = asyncio.run(_explain(dsn, *sample[0]))
        renders = _renders()
        end_to_end = _report_end_to_end(dsn, tmp)
        frames = _frames(tmp)
    ratio = helper.p50_ms / owner_only.p50_ms
    return Section(
        "Children: the membership helper, a report to PDF, a video's frames",
        [helper, owner_only, service, renders, end_to_end, frames],
        ratios={
            "p50: membership helper / owner-only policy": ratio,
            "p99: membership helper / owner-only policy": helper.p99_ms / owner_only.p99_ms,
            "p50: membership helper / service role": helper.p50_ms / service.p50_ms,
        },
        targets={
            "membership helper ≤ 1.2x an owner-only policy (p50)": "met" if ratio <= 1.2 else f"missed ({ratio:.2f}x)"
        },
        notes=[
            f"{FAMILIES:,} families (an owner and a caregiver each), {count:,} journal entries (and the same"
            f" rows in the owner-only table), loaded and analyzed in {seconds:.0f} s; {COUNT} queries per figure,"
            f" in turn, over {SAMPLE} random caregivers; each statement timed inside the transaction PostgREST"
            " opens.",
            *plans,
            f"Reports: {RENDERS} renders of the same Hebrew report; {REPORTS} reports through a worker and the fake"
            " model (a recorded answer), timed by the row's created_at → ready_at.",
        ],
    )
