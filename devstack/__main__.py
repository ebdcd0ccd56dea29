"""`python -m devstack up|reset|migrate|status|gateway`: the local Supabase-compatible stack."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from types import FrameType

from devstack.migrate import MigrationError
from devstack.postgres import PostgresError
from devstack.settings import DevstackSettings
from devstack.stack import DevstackError, LocalStack, StackBusy, serve_gateway, worker_metrics_port
from shared import eventloop, logs

log = logging.getLogger("devstack")


OFFLINE_NOTICE = """
  *** OFFLINE MODE: no ANTHROPIC_API_KEY (or OPENAI_BASE_URL) is set. Coach replies are generated
  *** locally by the offline provider and stamped model='offline'. Set a key and restart for Claude.
"""


async def _up(stack: LocalStack, workers: int) -> None:
    await stack.prepare()
    banner = "\ncoachbase devstack is running.\n\n" + stack.status() + "\n"
    if workers:
        ports = [worker_metrics_port(i) for i in range(workers)]
        metrics = f"metrics on :{', :'.join(map(str, ports))}" if ports[0] else "metrics off"
        banner += f"\n{workers} worker(s) answer chat messages ({metrics}).\n"
        if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("OPENAI_BASE_URL")):
            banner += OFFLINE_NOTICE
    await serve_gateway(stack.settings, stack.superuser_dsn, workers=workers, banner=banner)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    signal.raise_signal(signal.SIGINT)


def _stop_on_sigterm() -> None:
    """SIGTERM stops the stack as Ctrl-C does, Postgres included: it is handed on as SIGINT.

    uvicorn catches SIGTERM, shuts down, then raises the signal again; SIGTERM's default action would end
    the process there, before the `finally` that stops Postgres. As SIGINT it reaches what Ctrl-C reaches:
    inside the event loop, asyncio's handler, which cancels the main task so that it unwinds (the mail
    catcher and the workers stop in turn); outside, a KeyboardInterrupt. Raising KeyboardInterrupt inside
    the loop instead tore it down with the mail catcher still serving (an error and a traceback on exit).
    """
    signal.signal(signal.SIGTERM, _interrupt)


BUSY = {
    "up": "the devstack is already running here (pid {pid}, API at {url}): use it, or stop it with Ctrl-C in its"
    " terminal first",
    "reset": "`make db-reset` deletes the database the running devstack uses (pid {pid}): stop it with Ctrl-C in"
    " its terminal, then reset",
}


def _command(args: argparse.Namespace, stack: LocalStack) -> None:
    if args.command == "status":
        print(stack.status())
        return
    _stop_on_sigterm()
    if args.command == "gateway":
        eventloop.run(serve_gateway(stack.settings, stack.superuser_dsn))
        return
    try:
        with stack.owned():
            if args.command == "reset":
                stack.destroy_database()
            stack.start_database()
            try:
                if args.command == "up":
                    eventloop.run(_up(stack, args.workers))
                else:
                    asyncio.run(stack.prepare())
            finally:
                stack.stop_database()
    except StackBusy as busy:
        if args.command != "migrate":
            raise DevstackError(BUSY[args.command].format(pid=busy.pid, url=stack.settings.api_url)) from None
        # As `supabase migration up` does: applied to the running database, which stays up.
        log.info("applying pending migrations to the running devstack", extra={"pid": busy.pid})
        asyncio.run(stack.prepare())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("command", choices=["up", "reset", "migrate", "status", "gateway"])
    parser.add_argument("--log-format", choices=["text", "json"], default="text")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--workers", type=int, default=1, help="worker processes started by `up` (0: none)")
    args = parser.parse_args(argv)
    logs.setup(args.log_level, args.log_format)
    stack = LocalStack(DevstackSettings())
    try:
        _command(args, stack)
    except KeyboardInterrupt:
        log.info("stopped")
    except (MigrationError, PostgresError, DevstackError) as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
