"""The fast subset of `make chaos`: workers killed, the gateway and Postgres restarted, the model failing."""

from __future__ import annotations

import random

from devtools.chaos import run_chaos


async def test_nothing_is_lost_or_duplicated_while_things_break() -> None:
    random.seed(20261123)
    report = await run_chaos(seconds=24, users=4, workers=2, drain_seconds=60, every=(4, 5))
    print(report.render())
    assert set(report.actions) == {"kill_worker", "restart_gateway", "restart_postgres"}
    assert report.counts["user_messages"] >= 20
    assert report.ok, report.render()
    assert report.counts["complete"] + report.counts["failed"] == report.counts["user_messages"]
    assert report.counts["tool_calls_run"] >= 3  # the planner's users' replies called their tool
    assert report.counts["duplicated_effects"] == 0
