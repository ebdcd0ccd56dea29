-- =====================================================================================================
-- The index of a user's active jobs holds only jobs that have a user, so a claim cannot read it whole.
-- jobs_user_id_idx served lookups by user (a check-in cancelling its category's pending follow-up) and
-- covered every active job: its predicate, status in ('queued', 'running', 'failed'), is implied by the
-- claim's own conditions. Postgres may read such a partial index whole, as a way to find the rows it
-- holds. With statistics taken at a quiet moment (few active jobs; autovacuum analyzes a large table only
-- after 10 % of it changes, and retention keeps it large), a backlog after an outage looked empty, and
-- the claim did exactly that: the ordering check (no earlier active job with the same ordering key) read
-- every active job for every candidate instead of looking up jobs_ordering_idx, and the queued pass read
-- the backlog and sorted it instead of walking jobs_fair_idx in order. 16 jobs claimed out of 10,000
-- queued took 11.5 ms in that statement, 0.45 ms through the two indexes meant for it.
-- With `user_id is not null` in its predicate the index is for what it serves (a lookup by user implies
-- it) and a query that names no user cannot use it. The index is small (active jobs only); building it
-- reads the table once.
-- =====================================================================================================

drop index internal.jobs_user_id_idx;
create index jobs_user_id_idx on internal.jobs (user_id)
  where status in ('queued', 'running', 'failed') and user_id is not null;
comment on index internal.jobs_user_id_idx is
  'A user''s active jobs (lookups by user, e.g. a follow-up to cancel). user_id is not null keeps it out of '
  'the claim''s plans: a query that names no user cannot read it whole.';
