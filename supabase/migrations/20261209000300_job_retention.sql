-- =====================================================================================================
-- Retention of finished jobs. Every message queues a safety assessment and a reply, and every note,
-- check-in and document more: internal.jobs grows by several rows per user action, and nothing removed
-- them. A job that succeeded is needed while it is fresh (an operator looking at what just happened; its
-- dedupe key guards the row that asked for it, which is inserted once); a dead one until an operator has
-- had time to see why it died. Past that they are deleted, in small batches, by the workers.
--
--   settings   jobs.keep_succeeded_days (14) and jobs.keep_dead_days (90), edited in Studio; 0 or less keeps
--              them for ever
--   function   purge_finished_jobs_v1(p_limit): deletes up to p_limit of the oldest such jobs, skipping rows
--              another session holds (two workers purging at once split the work), and returns how many.
--              Each worker calls it every COACHBASE_PURGE_SECONDS (300), again while a batch comes back full
--   kept       queued, running and failed jobs are never touched; what the jobs paid for stays in the usage
--              ledger (internal.ai_usage keeps job_id as a plain number); a reservation belongs to a job
--              not yet settled, so a finished job has none
-- =====================================================================================================

insert into internal.settings (key, value, description) values
  ('jobs.keep_succeeded_days', '14',
   'Days a succeeded job is kept in internal.jobs before the workers delete it (0 or less: kept for ever).'),
  ('jobs.keep_dead_days', '90',
   'Days a dead job (every attempt failed) is kept in internal.jobs before the workers delete it (0 or less: '
   'kept for ever).')
on conflict (key) do nothing;

-- The succeeded ones in the order they finished (a partial index: queued and running rows are not in it).
-- Dead ones are found through jobs_problem_idx (updated_at, where failed or dead).
create index jobs_succeeded_idx on internal.jobs (finished_at) where status = 'succeeded';

-- Security definer: the workers' role may not delete jobs otherwise (service_role has no DELETE on
-- internal.jobs); this deletes only what the retention settings allow.
create function public.purge_finished_jobs_v1(p_limit integer default 1000) returns integer
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  keep_succeeded numeric := coalesce((internal.setting('jobs.keep_succeeded_days') #>> '{}')::numeric, 14);
  keep_dead numeric := coalesce((internal.setting('jobs.keep_dead_days') #>> '{}')::numeric, 90);
  wanted integer := least(greatest(coalesce(p_limit, 1000), 1), 10000);
  purged integer;
  dead_purged integer;
begin
  with doomed as (
    select j.id from internal.jobs j
     where keep_succeeded > 0 and j.status = 'succeeded'
       and j.finished_at < now() - make_interval(secs => keep_succeeded * 86400)
     order by j.finished_at
     limit wanted
       for update skip locked
  )
  delete from internal.jobs j using doomed d where j.id = d.id;
  get diagnostics purged = row_count;
  if purged < wanted then
    with doomed as (
      select j.id from internal.jobs j
       where keep_dead > 0 and j.status = 'dead'
         and j.updated_at < now() - make_interval(secs => keep_dead * 86400)
       order by j.updated_at
       limit wanted - purged
         for update skip locked
    )
    delete from internal.jobs j using doomed d where j.id = d.id;
    get diagnostics dead_purged = row_count;
    purged := purged + dead_purged;
  end if;
  return purged;
end;
$$;
comment on function public.purge_finished_jobs_v1(integer) is
  'Workers: delete up to p_limit (at most 10,000) succeeded jobs older than jobs.keep_succeeded_days and dead '
  'ones older than jobs.keep_dead_days, oldest first, skipping rows held by others; returns how many. '
  'service_role only.';

revoke execute on function public.purge_finished_jobs_v1(integer) from public, anon, authenticated;
grant execute on function public.purge_finished_jobs_v1(integer) to service_role;
