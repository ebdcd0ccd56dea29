"""Per-subscriber RLS checks of row changes, many rows and many subscribers per round trip.

As supabase/realtime's `realtime.apply_rls`: as each subscriber's role with its `request.jwt.claims`
set, whether the row can be selected by its primary key. Here one call checks the keys of up to a chunk
of a transaction's rows for every distinct claims of one role: per claims, one set-based query joining
the keys (one text[] per key column) to the table, so a 10,000-row transaction costs milliseconds per
subscriber rather than a round trip per row. Claims are sent once per connection, then named by a
number (`pg_temp.devstack_claims`): a subscriber with a large token costs no traffic per change.

Visibility (issue 15): the walsender streams a transaction once its commit record is flushed, and the
committing session leaves the list of running transactions only after that (after a synchronous standby
confirmed it, when there is one). A check that read the row in between would find nothing and drop the
change for every subscriber allowed to see it. So the same call first waits, in Postgres, until the
transaction is visible to new snapshots (`pg_visible_in_snapshot` of its xid against
`pg_current_snapshot()`): one in-memory test when it already is, as nearly always, and a 1 ms poll only
while it is not, up to `realtime_visibility_wait_s` (5 s).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from devstack.realtime.catalog import TableInfo

MAX_REGISTERED_CLAIMS = 10_000  # distinct claims remembered per connection before starting over
# Functions and the claims table of a feed connection's own session (pg_temp): made once per connection.
SESSION_SQL = """
create temporary table if not exists devstack_claims (
  id int primary key, claims text not null, sub text not null, role text not null);

-- Wait until transaction `xid` is visible to new snapshots, at most `seconds` (a commit held by a
-- synchronous standby that never answers); past that the check reads anyway and may drop the change.
create or replace function pg_temp.devstack_await_visible(xid bigint, seconds double precision)
returns void language plpgsql as $$
declare
  snap pg_snapshot;
  xmax bigint;
  deadline timestamptz := clock_timestamp() + make_interval(secs => seconds);
begin
  loop
    -- Every evaluation takes a new snapshot (a volatile function under READ COMMITTED).
    snap := pg_current_snapshot();
    xmax := pg_snapshot_xmax(snap)::text::bigint;
    -- pgoutput sends the 32-bit xid: widen it with the epoch of the snapshot's xmax.
    exit when pg_visible_in_snapshot(
      (xmax + (((xid - (xmax & 4294967295)) + 2147483648) % 4294967296 + 4294967296) % 4294967296
        - 2147483648)::text::xid8,
      snap);
    if clock_timestamp() > deadline then
      raise warning 'devstack realtime: transaction % still not visible after % s', xid, seconds;
      exit;
    end if;
    perform pg_sleep(0.001);
  end loop;
end $$;

-- For each registered claims id: the positions (1-based) of the keys whose row `check_sql` finds as
-- `as_role` with those claims. A check that fails (a policy raising) finds nothing for those claims.
create or replace function pg_temp.devstack_rls_rows(
  check_sql text, key_columns text[], as_role text, claim_ids int[], xid bigint, wait_s double precision
) returns table (claim int, found int) language plpgsql as $$
declare
  subscriber record;
  found_rows int[];
begin
  if wait_s > 0 then
    perform pg_temp.devstack_await_visible(xid, wait_s);
  end if;
  for subscriber in
    select c.id, c.claims, c.sub, c.role from pg_temp.devstack_claims c
    where c.id = any(claim_ids) order by c.id
  loop
    begin
      perform set_config('role', as_role, true), set_config('request.jwt.claims', subscriber.claims, true),
              set_config('request.jwt.claim.sub', subscriber.sub, true),
              set_config('request.jwt.claim.role', subscriber.role, true);
      execute check_sql into found_rows using key_columns;
      perform set_config('role', 'none', true);
    exception when others then
      found_rows := '{}';
      raise warning 'devstack realtime: RLS check failed for role %: %', as_role, sqlerrm;
    end;
    return query select subscriber.id, unnest(found_rows);
  end loop;
  perform set_config('request.jwt.claims', '', true), set_config('request.jwt.claim.sub', '', true),
          set_config('request.jwt.claim.role', '', true);
end $$;
"""


async def prepare(conn: asyncpg.Connection) -> None:
    """Create the session's claims table and functions (once per connection)."""
    await conn.execute(SESSION_SQL)


class RlsChecker:
    """The RLS checks of one prepared connection, and the claims it has registered there."""

    def __init__(self, conn: asyncpg.Connection, visibility_wait_s: float) -> None:
        self.conn = conn
        self.visibility_wait_s = visibility_wait_s
        self._ids: dict[str, int] = {}

    async def visible(
        self, table: TableInfo, role: str, claims: Sequence[str], keys: Sequence[dict[str, str | None]], xid: int
    ) -> set[tuple[str, int]]:
        """(claims, index into `keys`) for every key row the subscribers with those claims may select."""
        if not claims or not keys:
            return set()
        ids = await self._register(claims)
        names = {number: text for text, number in self._ids.items()}
        key_columns = [[key.get(column) for key in keys] for column in table.pk]
        rows = await self.conn.fetch(
            "select claim, found from pg_temp.devstack_rls_rows($1, $2, $3, $4, $5, $6)",
            table.visible_sql(),
            key_columns,
            role,
            ids,
            xid,
            self.visibility_wait_s,
        )
        return {(names[row["claim"]], row["found"] - 1) for row in rows}

    async def _register(self, claims: Sequence[str]) -> list[int]:
        new = [text for text in dict.fromkeys(claims) if text not in self._ids]
        if new:
            if len(self._ids) + len(new) > MAX_REGISTERED_CLAIMS:
                await self.conn.execute("truncate pg_temp.devstack_claims")
                self._ids.clear()
                new = list(dict.fromkeys(claims))
            start = len(self._ids) + 1
            for offset, text in enumerate(new):
                self._ids[text] = start + offset
            await self.conn.execute(
                """insert into pg_temp.devstack_claims (id, claims, sub, role)
                   select n, c, coalesce(c::jsonb ->> 'sub', ''), coalesce(c::jsonb ->> 'role', '')
                   from unnest($1::int[], $2::text[]) as t(n, c)""",
                [self._ids[text] for text in new],
                new,
            )
        return [self._ids[text] for text in claims]
