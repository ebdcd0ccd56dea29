"""Who may do what on the child-scoped tables (and the children's Storage buckets), written as data.

Six roles, acting exactly as PostgREST and Storage make them act: `anon`; the child's `owner`, a
`caregiver` and a `viewer`; a signed-in `stranger`; `service_role` (the workers). Each statement targets
a row of the shared child (or, for inserts, creates one), in a transaction that is rolled back.
tests/schema/test_rls_matrix.py refuses an exposed table with no rows here or in its own MATRIX.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import asyncpg

from tests.schema.conftest import create_user

CHILD_ROLES = ("anon", "owner", "caregiver", "viewer", "stranger", "service_role")
MEMBERS = ("owner", "caregiver", "viewer", "service_role")
CARERS = ("owner", "caregiver", "service_role")
SIGNED_IN = ("owner", "caregiver", "viewer", "stranger", "service_role")
SERVICE = ("service_role",)
NOBODY: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChildCell:
    sql: str
    allowed: frozenset[str]


def cell(sql: str, allowed: tuple[str, ...]) -> ChildCell:
    assert set(allowed) <= set(CHILD_ROLES), allowed
    return ChildCell(sql, frozenset(allowed))


ALLOW_DELETE = "select set_config('storage.allow_delete_query', 'true', true); "  # as the Storage API does

CHILD_MATRIX: dict[str, dict[str, ChildCell]] = {
    "children": {
        "select": cell("select 1 from public.children where id = {child}", MEMBERS),
        "insert": cell(
            "insert into public.children (name, date_of_birth, created_by) "
            "values ('Matrix', '2025-01-01', coalesce(auth.uid(), {owner}))",
            SIGNED_IN,
        ),
        "update": cell("update public.children set notes = 'Likes trains' where id = {child}", CARERS),
        "delete": cell("delete from public.children where id = {child}", ("owner", "service_role")),
    },
    "child_members": {
        "select": cell("select 1 from public.child_members where child_id = {child} and user_id = {viewer}", MEMBERS),
        "insert": cell(
            "insert into public.child_members (child_id, user_id, role) values ({child}, {stranger}, 'viewer')", SERVICE
        ),
        "update": cell(
            "update public.child_members set role = 'caregiver' where child_id = {child} and user_id = {viewer}",
            ("owner", "service_role"),
        ),
        # The owner removes the viewer; the viewer may leave.
        "delete": cell(
            "delete from public.child_members where child_id = {child} and user_id = {viewer}",
            ("owner", "viewer", "service_role"),
        ),
    },
    "child_invitations": {
        "select": cell("select 1 from public.child_invitations where id = {invitation}", ("owner", "service_role")),
        "insert": cell(
            "insert into public.child_invitations (child_id, email, expires_at) "
            "values ({child}, 'matrix@example.com', now() + interval '1 day')",
            SERVICE,
        ),
        "update": cell("update public.child_invitations set role = 'viewer' where id = {invitation}", SERVICE),
        "delete": cell("delete from public.child_invitations where id = {invitation}", ("owner", "service_role")),
    },
    "journeys": {
        "select": cell("select 1 from public.journeys where id = {journey}", MEMBERS),
        "insert": cell("insert into public.journeys (child_id, completed_at) values ({child}, now())", SERVICE),
        "update": cell("update public.journeys set stage = 'consultation' where id = {journey}", SERVICE),
        "delete": cell("delete from public.journeys where id = {journey}", NOBODY),
    },
    "journey_events": {
        "select": cell("select 1 from public.journey_events where child_id = {child}", MEMBERS),
        "insert": cell(
            "insert into public.journey_events (journey_id, child_id, kind, source) "
            "values ({journey}, {child}, 'started', 'system')",
            SERVICE,
        ),
        "update": cell("update public.journey_events set data = '{{}}' where child_id = {child}", NOBODY),
        "delete": cell("delete from public.journey_events where child_id = {child}", NOBODY),
    },
    "journal_entries": {
        "select": cell("select 1 from public.journal_entries where id = {journal_entry}", MEMBERS),
        "insert": cell(
            "insert into public.journal_entries (child_id, author_id, content) "
            "values ({child}, coalesce(auth.uid(), {owner}), 'Matrix entry')",
            CARERS,
        ),
        # The entry is the caregiver's: its author edits it; the owner may delete it too.
        "update": cell(
            "update public.journal_entries set content = 'Edited' where id = {journal_entry}",
            ("caregiver", "service_role"),
        ),
        "delete": cell("delete from public.journal_entries where id = {journal_entry}", CARERS),
    },
    "documents": {
        "select": cell("select 1 from public.documents where id = {document}", MEMBERS),
        "insert": cell(
            "insert into public.documents (child_id, uploaded_by, filename, storage_path, mime_type, size_bytes) "
            "values ({child}, coalesce(auth.uid(), {owner}), 'second.pdf', {document_path_2}, 'application/pdf', 10)",
            CARERS,
        ),
        "update": cell("update public.documents set filename = 'renamed.pdf' where id = {document}", CARERS),
        "delete": cell("delete from public.documents where id = {document}", CARERS),
    },
    "videos": {
        "select": cell("select 1 from public.videos where id = {video}", MEMBERS),
        "insert": cell(
            "insert into public.videos (child_id, uploaded_by, scenario, storage_path, mime_type, size_bytes) "
            "values ({child}, coalesce(auth.uid(), {owner}), 'meal_time', {video_path_2}, 'video/mp4', 10)",
            CARERS,
        ),
        "update": cell("update public.videos set title = 'Lunch' where id = {video}", CARERS),
        "delete": cell("delete from public.videos where id = {video}", CARERS),
    },
    "reports": {
        "select": cell("select 1 from public.reports where id = {report}", MEMBERS),
        "insert": cell(
            "insert into public.reports (child_id, requested_by) values ({child}, coalesce(auth.uid(), {owner}))",
            CARERS,
        ),
        "update": cell("update public.reports set focus = 'Sleep' where id = {report}", SERVICE),
        "delete": cell("delete from public.reports where id = {report}", CARERS),
    },
    "experts": {
        "select": cell("select 1 from public.experts where id = {expert}", SIGNED_IN),
        "insert": cell(
            "insert into public.experts (name, specialties, city, latitude, longitude) "
            "values ('Matrix', '{{audiology}}', 'Haifa', 32.8, 35.0)",
            SERVICE,
        ),
        "update": cell("update public.experts set bio = 'Changed' where id = {expert}", SERVICE),
        "delete": cell("delete from public.experts where id = {expert}", SERVICE),
    },
    "expert_matches": {
        "select": cell("select 1 from public.expert_matches where id = {expert_match}", MEMBERS),
        "insert": cell(
            "insert into public.expert_matches (child_id, expert_id, score) values ({child}, {expert2}, 0.5)", SERVICE
        ),
        "update": cell("update public.expert_matches set status = 'contacted' where id = {expert_match}", CARERS),
        "delete": cell("delete from public.expert_matches where id = {expert_match}", CARERS),
    },
    "share_links": {
        "select": cell("select 1 from public.share_links where id = {share_link}", MEMBERS),
        "insert": cell(
            "insert into public.share_links (child_id, report_id, expires_at) "
            "values ({child}, {report}, now() + interval '1 day')",
            SERVICE,
        ),
        "update": cell("update public.share_links set revoked_at = now() where id = {share_link}", CARERS),
        "delete": cell("delete from public.share_links where id = {share_link}", ("owner", "service_role")),
    },
    # A child's knowledge chunks (its journal, its documents): members read them; workers write them.
    "knowledge_chunks": {
        "select": cell("select 1 from public.knowledge_chunks where id = {knowledge_chunk}", MEMBERS),
        "insert": cell(
            "insert into public.knowledge_chunks (source, source_id, child_id, chunk_index, content, model, "
            "dimensions, embedding, content_hash) "
            "values ('journal_entries', {journal_entry}, {child}, 9, 'x', 'm', 3, '[1,0,0]', 'x')",
            SERVICE,
        ),
        "update": cell("update public.knowledge_chunks set content = 'y' where id = {knowledge_chunk}", SERVICE),
        "delete": cell("delete from public.knowledge_chunks where id = {knowledge_chunk}", SERVICE),
    },
}

# The children's buckets: the policies on storage.objects, as Storage checks them (reports: workers write).
STORAGE_MATRIX: dict[str, dict[str, ChildCell]] = {
    "child-documents": {
        "select": cell(
            "select 1 from storage.objects where bucket_id = 'child-documents' and name = {document_path}", MEMBERS
        ),
        "insert": cell(
            "insert into storage.objects (bucket_id, name) values ('child-documents', {child}::text || '/new.pdf')",
            CARERS,
        ),
        "update": cell(
            "update storage.objects set user_metadata = '{{}}' "
            "where bucket_id = 'child-documents' and name = {document_path}",
            CARERS,
        ),
        "delete": cell(
            ALLOW_DELETE + "delete from storage.objects where bucket_id = 'child-documents' and name = {document_path}",
            CARERS,
        ),
    },
    "child-videos": {
        "select": cell(
            "select 1 from storage.objects where bucket_id = 'child-videos' and name = {video_path}", MEMBERS
        ),
        "insert": cell(
            "insert into storage.objects (bucket_id, name) values ('child-videos', {child}::text || '/new.mp4')", CARERS
        ),
        "update": cell(
            "update storage.objects set user_metadata = '{{}}' "
            "where bucket_id = 'child-videos' and name = {video_path}",
            CARERS,
        ),
        "delete": cell(
            ALLOW_DELETE + "delete from storage.objects where bucket_id = 'child-videos' and name = {video_path}",
            CARERS,
        ),
    },
    "child-reports": {
        "select": cell(
            "select 1 from storage.objects where bucket_id = 'child-reports' and name = {report_path}", MEMBERS
        ),
        "insert": cell(
            "insert into storage.objects (bucket_id, name) values ('child-reports', {child}::text || '/new.pdf')",
            SERVICE,
        ),
        "update": cell(
            "update storage.objects set user_metadata = '{{}}' "
            "where bucket_id = 'child-reports' and name = {report_path}",
            SERVICE,
        ),
        "delete": cell(
            ALLOW_DELETE + "delete from storage.objects where bucket_id = 'child-reports' and name = {report_path}",
            SERVICE,
        ),
    },
}


async def build_child_world(dsn: str) -> dict[str, str]:
    """A child with an owner, a caregiver and a viewer, a stranger, and a row of every child-scoped table."""
    conn = await asyncpg.connect(dsn)
    try:
        ids = {role: await create_user(conn, role.title()) for role in ("owner", "caregiver", "viewer", "stranger")}
        child = str(
            await conn.fetchval(
                "insert into public.children (name, date_of_birth, created_by) values ('Matrix', '2024-05-01', $1) "
                "returning id",
                ids["owner"],
            )
        )
        for role in ("caregiver", "viewer"):
            await conn.execute(
                "insert into public.child_members (child_id, user_id, role, invited_by) values ($1, $2, $3, $4)",
                child, ids[role], role, ids["owner"],
            )  # fmt: skip
        paths = {
            "document_path": f"{child}/letter.pdf",
            "document_path_2": f"{child}/second.pdf",
            "video_path": f"{child}/play.mp4",
            "video_path_2": f"{child}/lunch.mp4",
            "report_path": f"{child}/report.pdf",
        }
        buckets = {"document": "child-documents", "video": "child-videos", "report": "child-reports"}
        for key, path in paths.items():
            bucket = buckets[key.split("_")[0]]
            await conn.execute(
                "insert into storage.objects (bucket_id, name, owner_id, metadata) values ($1, $2, $3, $4)",
                bucket, path, ids["caregiver"], json.dumps({"size": 10, "mimetype": "application/pdf"}),
            )  # fmt: skip
        rows = await _rows(conn, child, ids, paths)
        return {**ids, "child": child, **paths, **rows}
    finally:
        await conn.close()


async def _rows(conn: asyncpg.Connection, child: str, ids: dict[str, str], paths: dict[str, str]) -> dict[str, str]:
    """The child's rows, written as workers and RPCs would (no analysis jobs: nothing to analyse here)."""
    tag = uuid.uuid4().hex[:8]
    async with conn.transaction():
        await conn.execute("set local session_replication_role = replica")
        journey = await conn.fetchval("select id::text from public.journeys where child_id = $1", child)
        invitation = await conn.fetchval(
            "insert into public.child_invitations (child_id, email, expires_at, invited_by) "
            "values ($1, $2, now() + interval '1 day', $3) returning id::text",
            child, f"invitee-{tag}@example.com", ids["owner"],
        )  # fmt: skip
        journal_entry = await conn.fetchval(
            "insert into public.journal_entries (child_id, author_id, content) values ($1, $2, 'First words') "
            "returning id::text",
            child, ids["caregiver"],
        )  # fmt: skip
        document = await conn.fetchval(
            "insert into public.documents (child_id, uploaded_by, filename, storage_path, mime_type, size_bytes) "
            "values ($1, $2, 'letter.pdf', $3, 'application/pdf', 10) returning id::text",
            child, ids["caregiver"], paths["document_path"],
        )  # fmt: skip
        video = await conn.fetchval(
            "insert into public.videos (child_id, uploaded_by, scenario, storage_path, mime_type, size_bytes) "
            "values ($1, $2, 'free_play', $3, 'video/mp4', 10) returning id::text",
            child, ids["caregiver"], paths["video_path"],
        )  # fmt: skip
        report = await conn.fetchval(
            "insert into public.reports (child_id, requested_by, status, content, storage_path) "
            "values ($1, $2, 'ready', '{\"title\": \"Matrix\"}', $3) returning id::text",
            child, ids["owner"], paths["report_path"],
        )  # fmt: skip
        experts = [
            await conn.fetchval(
                "insert into public.experts (name, specialties, city, latitude, longitude, verified) "
                "values ($1, '{speech_language_therapy}', 'Tel Aviv', 32.08, 34.78, true) returning id::text",
                f"Matrix Expert {n} {tag}",
            )
            for n in (1, 2)
        ]
        expert_match = await conn.fetchval(
            "insert into public.expert_matches (child_id, expert_id, score) values ($1, $2, 0.9) returning id::text",
            child, experts[0],
        )  # fmt: skip
        # Embedded by the serving model, as the session's other chunks (a model switch in tests/workers replaces them).
        knowledge_chunk = await conn.fetchval(
            "insert into public.knowledge_chunks (source, source_id, child_id, chunk_index, content, model, "
            "dimensions, embedding, content_hash) values ('journal_entries', $1, $2, 0, 'First words', "
            "'wordllama-l2-supercat-256', 256, array_fill(0.1, array[256])::extensions.vector, 'x') returning id::text",
            journal_entry, child,
        )  # fmt: skip
        share_link = await conn.fetchval(
            "insert into public.share_links (child_id, created_by, report_id, expires_at) "
            "values ($1, $2, $3, now() + interval '1 day') returning id::text",
            child, ids["owner"], report,
        )  # fmt: skip
    return {
        "journey": journey,
        "invitation": invitation,
        "journal_entry": journal_entry,
        "document": document,
        "video": video,
        "report": report,
        "expert": experts[0],
        "expert2": experts[1],
        "expert_match": expert_match,
        "share_link": share_link,
        "knowledge_chunk": knowledge_chunk,
    }
