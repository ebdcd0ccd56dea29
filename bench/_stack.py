"""What the benchmarks start for themselves: an embedded Postgres, the gateway and other processes.

Each lives in the benchmark's temporary directory (data and logs) and is stopped when its block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from devstack import migrate
from devstack.db import role_dsn
from devstack.postgres import EmbeddedPostgres, free_port
from devstack.settings import REPO_ROOT, DevstackSettings

SETTINGS = DevstackSettings(_env_file=None)
PASSWORD = SETTINGS.db_password.get_secret_value()


def postmaster_pid(tmp: Path) -> int:
    """The postmaster of the server `postgres(tmp)` runs (the first line of its postmaster.pid)."""
    return int((tmp / "pgdata" / "postmaster.pid").read_text().split()[0])


@contextlib.contextmanager
def postgres(tmp: Path, *, schema: str | None = None, root: Path = REPO_ROOT) -> Iterator[str]:
    """An embedded Postgres; yields its superuser DSN.

    Without `schema`: every migration and the seed (`supabase db reset`) of the code at `root` (another
    checkout's: its own bootstrap and migrations, applied by its own devstack in a subprocess). With it:
    the platform bootstrap only, then `schema` run as `postgres` (benchmarks of the devstack itself).
    """
    server = EmbeddedPostgres(tmp / "pgdata", free_port(), PASSWORD)
    server.start()
    try:
        dsn = server.dsn()
        if schema is None and root != REPO_ROOT:
            reset = "import asyncio, sys; from pathlib import Path; from devstack import migrate; "
            reset += "asyncio.run(migrate.reset(sys.argv[1], sys.argv[2], Path('supabase')))"
            subprocess.run([sys.executable, "-c", reset, dsn, PASSWORD], cwd=root, check=True, capture_output=True)
        elif schema is None:
            asyncio.run(migrate.reset(dsn, PASSWORD, REPO_ROOT / "supabase"))
        else:
            asyncio.run(with_schema(dsn, schema))
        if schema is None:
            asyncio.run(execute(dsn, NO_LIMITS))
        yield dsn
    finally:
        server.stop("immediate")


# Benchmarks measure speed, not plans: every simulated user is on the premium plan (no usage limits), in
# code that has plans at all (a baseline checkout may predate them).
NO_LIMITS = """
do $$ begin
  if to_regclass('internal.plans') is not null then
    update internal.plans set is_default = false where is_default;
    update internal.plans set is_default = true where name = 'premium';
  end if;
end $$;
"""


async def with_schema(dsn: str, schema: str) -> None:
    """The platform bootstrap, then `schema` run as `postgres`."""
    await migrate.bootstrap(dsn, PASSWORD)
    await execute(role_dsn(dsn, "postgres", PASSWORD), schema)


def database(dsn: str, name: str) -> str:
    """Create database `name` on `dsn`'s server; its superuser DSN."""
    asyncio.run(execute(dsn, f'create database "{name}" owner postgres'))
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def process(
    args: list[str], env: dict[str, str], log: Path, root: Path = REPO_ROOT
) -> Iterator[subprocess.Popen[bytes]]:
    """A subprocess of the Python code at `root` (this repository's, or a baseline checkout's: run from its
    folder, its packages come first), its output in `log`; terminated (then killed) at the end."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=root, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def gateway(
    dsn: str, tmp: Path, env: dict[str, str] | None = None, name: str = "gateway", root: Path = REPO_ROOT
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`python -m devstack gateway` on a free port over `dsn`, once it answers /health: (url, process).

    `env` adds settings (DEVSTACK_…); its log is `<name>.log` in `tmp`; `root` is the code's checkout."""
    port = free_port()
    env = {
        # Storage's bytes in the benchmark's own folder; no mail catcher (it would take :54324); no Auth rate
        # limits (hundreds of simulated users sign up from one address within seconds).
        "DEVSTACK_DATA_DIR": str(tmp / "data"),
        "DEVSTACK_MAIL_PORT": "0",
        "DEVSTACK_AUTH_RATE_LIMITS": "false",
        **(env or {}),
        "DATABASE_URL": dsn,
        "DEVSTACK_API_PORT": str(port),
        "DEVSTACK_HOST": "127.0.0.1",
    }
    args = [sys.executable, "-m", "devstack", "gateway", "--log-level", "WARNING"]
    with process(args, env, tmp / f"{name}.log", root) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health")
        yield url, proc


def wait_http(
    url: str,
    seconds: float = 30,
    *,
    headers: dict[str, str] | None = None,
    ready: Callable[[httpx.Response], bool] = lambda response: response.is_success,
) -> None:
    """Poll `url` until `ready(response)`; RuntimeError after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError, ValueError):
            if ready(httpx.get(url, headers=headers, timeout=1)):
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} was not ready within {seconds:.0f} s")


def unpack(revision: str, into: Path) -> Path | None:
    """The tree of git `revision` unpacked in the new folder `into` (`git archive`: no worktree to clean up),
    to run that revision's gateway, worker or migrations beside this checkout's. None when it cannot be
    (no git, or not a revision of this clone: a shallow CI clone)."""
    try:
        tree = subprocess.run(["git", "archive", revision], cwd=REPO_ROOT, check=True, capture_output=True).stdout
        into.mkdir(parents=True)
        subprocess.run(["tar", "-x", "-C", str(into)], input=tree, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return into


@contextlib.contextmanager
def checkout(revision: str) -> Iterator[Path | None]:
    """`revision`'s tree in a temporary folder for the block (None when empty or not unpackable)."""
    if not revision:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        yield unpack(revision, Path(tmp) / "code")


def baseline(tmp: Path) -> tuple[str, Path] | None:
    """The tree of git revision `BENCH_BASELINE` (default c7a60c1: the devstack before issue 21) unpacked in
    `tmp`, to run its gateway beside this one: (revision, path). None when it is empty (smoke runs), not a
    revision of this clone, or has this checkout's (HEAD's) devstack."""
    ref = os.environ.get("BENCH_BASELINE", "c7a60c1")
    if not ref:
        return None

    def tree_of(revision: str) -> bytes:
        return subprocess.run(
            ["git", "rev-parse", f"{revision}:devstack"], cwd=REPO_ROOT, check=True, capture_output=True
        ).stdout

    try:
        if tree_of(ref) == tree_of("HEAD"):
            return None
    except (OSError, subprocess.CalledProcessError):
        return None
    root = unpack(ref, tmp / "baseline")
    return (ref, root) if root is not None else None
