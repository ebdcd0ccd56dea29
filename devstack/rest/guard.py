"""A bound on the JSON a request builds, so that a nested embed fails with a clear 400 instead of taking
Postgres's memory (a two-level embed over 2,000 rows once built ~1 GB and ended in "out of memory").

`db-max-rows` caps each embed at 1,000 rows per parent row, as PostgREST does, but nesting multiplies
that. Every to-many embed's JSON array passes through `pg_temp.devstack_bound`, which adds its size to a
transaction-local counter and raises once the request's arrays together pass `rest_max_json_bytes`
(64 MiB by default): an error answered as `400 {"code": "54000", …}`. The function lives in each pooled
connection's temporary schema, created when the pool opens the connection; it costs a few microseconds
per parent row of a to-many embed and nothing for requests without one. PostgREST has no such limit.
"""

from __future__ import annotations

import asyncpg

GUARD_SQL = """
create or replace function pg_temp.devstack_bound(j json) returns json language plpgsql as $$
declare
  total bigint := coalesce(nullif(current_setting('devstack.json_bytes', true), ''), '0')::bigint
    + coalesce(octet_length(j::text), 0);
  budget bigint := coalesce(nullif(current_setting('devstack.json_limit', true), ''), '67108864')::bigint;
begin
  if total > budget then
    raise sqlstate 'PGRST' using
      message = json_build_object(
        'code', '54000',
        'message', format('The response would hold more than %s bytes of embedded JSON', budget),
        'details', null,
        'hint', 'Embed fewer rows: filter or limit the embedded resources (e.g. rel.limit=10)')::text,
      detail = '{"status": 400}';
  end if;
  perform set_config('devstack.json_bytes', total::text, true);
  return j;
end $$;
"""


async def install(conn: asyncpg.Connection, limit: int) -> None:
    """Create the guard in a new pooled connection's temporary schema and set the session's budget."""
    await conn.execute(GUARD_SQL)
    await conn.execute("select pg_catalog.set_config('devstack.json_limit', $1, false)", str(limit))
