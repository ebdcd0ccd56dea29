"""Embedded PostgreSQL 16 (from the `pgserver` wheel) for the devstack and the tests.

No Docker and no root needed. When run as root the server runs as an unprivileged system user
(`pgserver`), since Postgres refuses to run as root. The cluster's bootstrap superuser is
`supabase_admin`, as on Supabase; `postgres` is created later by the platform bootstrap as a
non-superuser.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("devstack.postgres")

SUPERUSER = "supabase_admin"
SYSTEM_USER = "pgserver"  # only used when running as root

# Server settings: logical decoding for the Realtime endpoint, sized for a 2-core machine.
SERVER_SETTINGS = {
    "wal_level": "logical",
    "max_replication_slots": "20",
    "max_wal_senders": "20",
    "max_connections": "200",
    "shared_buffers": "256MB",
    "fsync": "on",
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
    "timezone": "UTC",
}


class PostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


def _bin_dir() -> Path:
    """The wheel's binaries, found without importing `pgserver` (its import has side effects)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresError("the pgserver package is not installed: run `make dev` or `make test`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


@dataclass
class EmbeddedPostgres:
    """A Postgres cluster in `pgdata`, listening on host:port and on a Unix socket inside pgdata."""

    pgdata: Path
    port: int
    password: str
    host: str = "127.0.0.1"

    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    @property
    def socket_dir(self) -> Path:
        return self.pgdata

    @property
    def log_file(self) -> Path:
        return self.pgdata / "server.log"

    def dsn(self, user: str = SUPERUSER, database: str = "postgres") -> str:
        return f"postgresql://{user}:{self.password}@{self.host}:{self.port}/{database}"

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Initialise the cluster if needed and start it; recovers from a crash's stale PID file."""
        self._prepare_permissions()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._handle_existing_postmaster()
        if port_in_use(self.host, self.port):
            raise PostgresError(
                f"port {self.port} on {self.host} is taken by another program; stop it or set DEVSTACK_DB_PORT"
            )
        options = " ".join(f"-c {k}={v}" for k, v in SERVER_SETTINGS.items())
        options += f" -c listen_addresses={self.host} -p {self.port} -k {self.socket_dir}"
        started = time.monotonic()
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
            check=False,
        )
        if result.returncode != 0:
            raise PostgresError(f"postgres failed to start:\n{result.stdout}{result.stderr}\n{self._log_tail()}")
        log.info(
            "postgres started",
            extra={"port": self.port, "pgdata": str(self.pgdata), "seconds": round(time.monotonic() - started, 2)},
        )

    def stop(self, mode: str = "fast") -> None:
        if not (self.pgdata / "postmaster.pid").exists():
            return
        result = self._run("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "-t", "30", "stop", check=False)
        if result.returncode != 0 and (self.pgdata / "postmaster.pid").exists():
            pid = self._postmaster_pid()
            if pid is not None:
                log.warning("pg_ctl stop failed; killing postmaster", extra={"pid": pid})
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        log.info("postgres stopped", extra={"pgdata": str(self.pgdata)})

    def destroy(self) -> None:
        """Stop the server and delete its data (`make db-reset`)."""
        self.stop("immediate")
        shutil.rmtree(self.pgdata, ignore_errors=True)

    def is_running(self) -> bool:
        pid = self._postmaster_pid()
        return pid is not None and _pid_alive(pid) and _is_postgres(pid)

    # -- internals -------------------------------------------------------------------------------

    def _initdb(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            shutil.chown(self.pgdata, SYSTEM_USER, SYSTEM_USER)
        self.pgdata.chmod(0o700)
        pwfile = self.pgdata.parent / f".{self.pgdata.name}.pw"
        pwfile.write_text(self.password + "\n")
        if self._as_root:
            shutil.chown(pwfile, SYSTEM_USER, SYSTEM_USER)
        try:
            result = self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
                check=False,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(self.pgdata, ignore_errors=True)
            raise PostgresError(f"initdb failed:\n{result.stdout}{result.stderr}")
        log.info("postgres cluster initialised", extra={"pgdata": str(self.pgdata)})

    def _handle_existing_postmaster(self) -> None:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return
        pid = self._postmaster_pid()
        if pid is not None and _pid_alive(pid) and _is_postgres(pid):
            # A server left running by an earlier run (e.g. a killed `make dev`): restart it with our
            # settings rather than trusting its port and configuration.
            log.warning("found a running postgres for this data dir; restarting it", extra={"pid": pid})
            self.stop()
        else:
            log.warning("removing stale postmaster.pid left by a crash", extra={"pid": pid})
            pid_file.unlink(missing_ok=True)

    def _postmaster_pid(self) -> int | None:
        try:
            first = (self.pgdata / "postmaster.pid").read_text().splitlines()[0]
            return int(first.strip())
        except (OSError, IndexError, ValueError):
            return None

    def _prepare_permissions(self) -> None:
        if not self._as_root:
            return
        _ensure_system_user()
        install = _bin_dir().parent
        _open_prefixes(install)
        for path in install.rglob("*"):
            mode = path.stat().st_mode
            wanted = mode | 0o044 | (0o011 if mode & 0o100 or path.is_dir() else 0)
            if wanted != mode:
                path.chmod(wanted)
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        _open_prefixes(self.pgdata.parent)
        if self.pgdata.exists():
            shutil.chown(self.pgdata, SYSTEM_USER, SYSTEM_USER)

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(_bin_dir() / program), *args]
        kwargs: dict[str, object] = {}
        if self._as_root:
            kwargs["user"] = SYSTEM_USER
            kwargs["group"] = SYSTEM_USER
            kwargs["extra_groups"] = []
        # pg_ctl's forked server inherits stdout; files instead of pipes avoid a hang on exit.
        with open(os.devnull, "rb") as stdin:
            return subprocess.run(  # type: ignore[call-overload]
                cmd, stdin=stdin, capture_output=True, text=True, check=check, cwd="/", timeout=120, **kwargs
            )

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def _ensure_system_user() -> None:
    import pwd

    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", SYSTEM_USER], check=True)


def _open_prefixes(path: Path) -> None:
    """Let the unprivileged server user traverse every folder above `path` (and `path` itself)."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if mode & 0o011 != 0o011:
            folder.chmod(mode | 0o011)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_postgres(pid: int) -> bool:
    """A reused PID after a crash may belong to an unrelated program: check its name."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() in ("postgres", "postmaster")
    except OSError:
        return True  # no /proc: assume it is ours, pg_ctl will tell
