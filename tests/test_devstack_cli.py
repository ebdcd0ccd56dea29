"""`make dev`'s command end to end: a real process starts Postgres, the gateway and a worker, a client signs
up, Ctrl-C stops it all in order."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from supabase import AsyncClientOptions, acreate_client

from devstack.postgres import free_port
from devstack.settings import DEMO_ANON_KEY, REPO_ROOT


def _wait_for(predicate: object, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()}")


def _up_env(tmp_path: Path, api_port: int, db_port: int, mail_port: int) -> dict[str, str]:
    """`make dev`'s environment on free ports, its data in `tmp_path` (never the developer's .devstack/)."""
    return {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "DEVSTACK_DATA_DIR": str(tmp_path / "data"),
        "DEVSTACK_API_PORT": str(api_port),
        "DEVSTACK_DB_PORT": str(db_port),
        "DEVSTACK_MAIL_PORT": str(mail_port),
        "COACHBASE_METRICS_PORT": "0",
    }


def _wait_stopped(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def _devstack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m devstack <args>` run to its end, its output kept."""
    return subprocess.run(
        [sys.executable, "-m", "devstack", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


async def test_up_serves_sign_up_and_stops_cleanly(tmp_path: Path) -> None:
    api_port, db_port = free_port(), free_port()
    log = tmp_path / "up.log"
    env = _up_env(tmp_path, api_port, db_port, free_port())
    url = f"http://127.0.0.1:{api_port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, not awaited
            [sys.executable, "-m", "devstack", "up"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, as a terminal's foreground job
        )
    try:
        _wait_for(lambda: _healthy(url), 60, "the gateway", log)
        # The banner is printed once the gateway listens, which can be just after it answers /health.
        _wait_for(lambda: "anon key:" in log.read_text(), 10, "the status banner", log)
        output = log.read_text()
        assert f"API URL: {url}" in output
        assert f"DB URL: postgresql://postgres:postgres@127.0.0.1:{db_port}/postgres" in output
        assert f"anon key: {DEMO_ANON_KEY}" in output

        email = f"newcomer-{uuid.uuid4().hex[:8]}@example.com"
        async with httpx.AsyncClient(timeout=10) as pool:
            options = AsyncClientOptions(auto_refresh_token=False, httpx_client=pool)
            client = await acreate_client(url, DEMO_ANON_KEY, options=options)
            response = await client.auth.sign_up({"email": email, "password": "a-long-password"})
        assert response.user is not None and response.user.email == email
        assert response.session is not None
        _wait_for(lambda: "worker started" in log.read_text(), 30, "the worker", log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole process group
        _wait_stopped(proc)
    output = log.read_text()
    assert proc.returncode == 0, output
    # The worker got the Ctrl-C too: it stops while the API still serves it, and is not restarted.
    assert "restarting" not in output, output
    assert output.index("workers: worker stopped") < output.index("Shutting down"), output
    assert not (tmp_path / "data" / "pgdata" / "postmaster.pid").exists(), "postgres was left running"
    assert "Traceback" not in output, output


def test_sigterm_stops_up_and_its_postgres(tmp_path: Path) -> None:
    """SIGTERM (a service manager, `kill`) stops `up` as Ctrl-C does: uvicorn re-raises the signal once it has
    shut down, which must not end the process before it stops Postgres. While it runs, its data directory is
    its own: another `up` or a reset cannot stop or delete its database."""
    api_port, db_port, mail_port = free_port(), free_port(), free_port()
    log = tmp_path / "up.log"
    env = _up_env(tmp_path, api_port, db_port, mail_port)
    url = f"http://127.0.0.1:{api_port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devstack", "up", "--workers", "0"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for(lambda: _healthy(url), 60, "the gateway", log)
        assert (tmp_path / "data" / "pgdata" / "postmaster.pid").exists()
        mail = httpx.get(f"http://127.0.0.1:{mail_port}/api/v1/messages", timeout=5)  # the mail catcher
        assert mail.status_code == 200 and mail.json()["messages"] == []

        # What a second terminal might run meanwhile leaves this stack serving: another `up` and a
        # `db-reset` are refused with what to do, and `migrate` applies to the running database.
        pid = proc.pid
        second, reset = _devstack(env, "up", "--workers", "0"), _devstack(env, "reset")
        assert second.returncode == 1 and f"already running here (pid {pid}" in second.stderr, second.stderr
        assert reset.returncode == 1 and f"uses (pid {pid}): stop it" in reset.stderr, reset.stderr
        migrated = _devstack(env, "migrate")
        assert migrated.returncode == 0 and "to the running devstack" in migrated.stderr, migrated.stderr
        assert _healthy(url) and (tmp_path / "data" / "pgdata" / "postmaster.pid").exists()
        signed_up = httpx.post(
            f"{url}/auth/v1/signup",
            json={"email": f"still-{uuid.uuid4().hex[:8]}@example.com", "password": "a-long-password"},
            headers={"apikey": DEMO_ANON_KEY},
            timeout=10,
        )
        assert signed_up.status_code == 200, signed_up.text  # its database is still there
    finally:
        proc.send_signal(signal.SIGTERM)  # to the devstack alone, not its process group
        _wait_stopped(proc)
    output = log.read_text()
    assert proc.returncode == 0, output
    assert not (tmp_path / "data" / "pgdata" / "postmaster.pid").exists(), "postgres was left running:\n" + output
    assert "Traceback" not in output, output
    assert _devstack(env, "migrate").returncode == 0  # stopped, it no longer holds the data directory


def test_an_api_port_taken_by_another_program_is_named_not_a_traceback(tmp_path: Path) -> None:
    """A newcomer with `supabase start` (or anything) on the API port is told which port and what to set."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        api_port = taken.getsockname()[1]
        env = _up_env(tmp_path, api_port, free_port(), free_port())
        done = _devstack(env, "up", "--workers", "0")
    assert done.returncode == 1, done.stderr
    assert f"the API could not listen on 127.0.0.1:{api_port}: another program uses that port" in done.stderr
    assert "set DEVSTACK_API_PORT" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "data" / "pgdata" / "postmaster.pid").exists(), "postgres was left running"


ORPHANING_PARENT = """
import os, subprocess, sys, time
env = {**os.environ, "COACHBASE_PARENT_PID": str(os.getpid())}  # as the devstack starts its workers
with open(sys.argv[1], "wb") as log:
    child = subprocess.Popen([sys.executable, "-m", "workers"], env=env, stdout=log, stderr=subprocess.STDOUT)
print(child.pid, flush=True)
time.sleep(300)
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True
    return state == "Z"  # exited, waiting for a reaper that a container's init may never be


def test_a_worker_stops_when_the_devstack_that_started_it_is_killed(tmp_path: Path) -> None:
    """`kill -9` of `make dev` (or a crash) must not leave its workers running on: an orphan kept the
    metrics port, so the next `make dev`'s worker failed to start in a loop."""
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "SUPABASE_URL": f"http://127.0.0.1:{free_port()}",  # nothing there: the worker waits for its API
        "COACHBASE_METRICS_PORT": "0",
        "COACHBASE_LOG_FORMAT": "text",
    }
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHANING_PARENT, str(log)], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    try:
        _wait_for(lambda: "worker started" in log.read_text(), 60, "the worker", log)
        parent.kill()
        parent.wait(10)
        _wait_for(lambda: _gone(worker), 20, "the orphaned worker to stop", log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)
        parent.kill()
        parent.wait(10)
        parent.stdout.close()
    output = log.read_text()
    assert "the process that started this worker is gone; stopping" in output, output
    assert "worker stopped" in output, output
