"""The job-kind registry: the worker's kinds and internal.job_kinds agree, every kind has its prompt, the
functions it names exist, and an output model never allows what its table would refuse."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import asyncpg
import pytest
from pydantic import BaseModel

from shared.schema import json_schema
from tests.schema.conftest import World
from workers.kinds import checkin_analysis, recommendations, user_summary
from workers.kinds.registry import KINDS


@pytest.fixture
async def conn(world: World) -> asyncpg.Connection:
    connection = await asyncpg.connect(world.dsn)
    yield connection
    await connection.close()


async def test_the_workers_kinds_are_the_registered_kinds(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        "select name, prompt_kind, streams from internal.job_kinds where name !~ '^test_' order by name"
    )
    registered = {r["name"]: (r["prompt_kind"], r["streams"]) for r in rows}
    assert registered == {name: (spec.prompt_kind, spec.streams) for name, spec in KINDS.items()}


async def test_every_kind_has_an_active_default_prompt_and_its_functions(conn: asyncpg.Connection) -> None:
    for name, spec in KINDS.items():
        if spec.prompt_kind is not None:
            prompt = await conn.fetchval("select internal.resolve_prompt($1)", spec.prompt_kind)
            assert prompt is not None, f"{name}: no active prompt for {spec.prompt_kind} (internal.active_prompts)"
            assert json.loads(prompt)["template"], name
        functions = await conn.fetchrow(
            "select context_function::text as context, finish_function::text as finish, "
            "(select prorettype = 'jsonb'::regtype from pg_proc where oid = context_function) as context_jsonb, "
            "(select prorettype = 'jsonb'::regtype from pg_proc where oid = finish_function) as finish_jsonb "
            "from internal.job_kinds where name = $1",
            name,
        )
        assert functions["context"] == f"internal.{name}_context(internal.jobs)"
        assert functions["finish"] == f"internal.{name}_finish(internal.jobs,jsonb,jsonb)"
        assert functions["context_jsonb"] and functions["finish_jsonb"]


# What each kind leaves behind when its job is given up; chat_reply's and safety_assessment's are tested
# with real rows in tests/jobs/test_chat_reply_sql.py.
CLEAN_UPS = {
    "chat_reply", "safety_assessment", "child_invitation", "document_analysis", "video_analysis",
    "journey_report", "note_transcription",
}  # fmt: skip


async def test_each_kinds_clean_up_runs_when_its_job_dies(conn: asyncpg.Connection) -> None:
    """Every registered on_dead_function runs through the one trigger for dead jobs without an error (the
    rows it would mark are absent here); child_invitation's also takes the token out of the job."""
    registered = await conn.fetch("select name from internal.job_kinds where on_dead_function is not null")
    assert {r["name"] for r in registered} == CLEAN_UPS
    ids = {name: str(uuid.uuid4()) for name in ("document_id", "video_id", "report_id", "scan_id", "invitation_id")}
    for kind in sorted(CLEAN_UPS - {"chat_reply", "safety_assessment"}):
        transaction = conn.transaction()
        await transaction.start()
        try:
            job = await conn.fetchval(
                "insert into internal.jobs (kind, payload, status) values ($1, $2::jsonb, 'running') returning id",
                kind,
                json.dumps(ids | {"token": "secret"}),
            )
            await conn.execute("set local role service_role")
            await conn.execute("update internal.jobs set status = 'dead', last_error = 'gone' where id = $1", job)
            token = await conn.fetchval("select payload ? 'token' from internal.jobs where id = $1", job)
            assert token == (kind != "child_invitation"), kind
        finally:
            await transaction.rollback()


def _limits(schema: dict[str, Any], path: str = "") -> dict[str, int]:
    """Every string's maxLength in a JSON Schema, by path."""
    found: dict[str, int] = {}
    if schema.get("type") == "string" and "maxLength" in schema:
        found[path] = schema["maxLength"]
    for name, sub in (schema.get("properties") or {}).items():
        found |= _limits(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        found |= _limits(schema["items"], f"{path}[]")
    return found


# Output model field → the table column (and its check constraint) the finish function writes it to.
WRITTEN: list[tuple[type[BaseModel], str, str, str]] = [
    (
        recommendations.Recommendations,
        ".recommendations[].title",
        "recommendations",
        "recommendations_title_1_to_200_characters",
    ),
    (checkin_analysis.Analysis, ".summary", "checkins", "checkins_summary_at_most_4000_characters"),
    (user_summary.Memory, ".summary", "user_summaries", "user_summaries_summary_at_most_8000_characters"),
]


@pytest.mark.parametrize(("model", "path", "table", "constraint"), WRITTEN, ids=[w[1] for w in WRITTEN])
async def test_an_output_model_allows_no_more_than_its_table(
    conn: asyncpg.Connection, model: type[BaseModel], path: str, table: str, constraint: str
) -> None:
    definition = await conn.fetchval(
        "select pg_get_constraintdef(oid) from pg_constraint where conname = $1 and conrelid = $2::regclass",
        constraint,
        f"public.{table}",
    )
    assert definition is not None, f"{table}.{constraint} is gone: update this test"
    table_max = max(int(n) for n in re.findall(r"\b\d+\b", definition))
    model_max = _limits(json_schema(model))[path]
    assert model_max <= table_max, f"{model.__name__}{path}: {model_max} > {table}'s {table_max}"


def test_a_structured_tool_is_generated_from_its_output_model() -> None:
    schema = recommendations.TOOL.input_schema
    title = schema["properties"]["recommendations"]["items"]["properties"]["title"]
    assert title["maxLength"] == 80 == recommendations.Recommendation.model_fields["title"].metadata[0].max_length
    assert "$ref" not in json.dumps(schema) and "title" not in {k for k in title}
    assert schema["properties"]["recommendations"]["items"]["additionalProperties"] is False
    assert recommendations.tool(3).input_schema["properties"]["recommendations"]["maxItems"] == 3
    assert recommendations.tool(9).input_schema["properties"]["recommendations"]["maxItems"] == 5
