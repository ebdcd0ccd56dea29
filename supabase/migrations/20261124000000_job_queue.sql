-- =====================================================================================================
-- Durable jobs: every piece of AI work is a row here, enqueued in the same transaction as the row that
-- asks for it. Workers wake on Realtime inserts, claim with FOR UPDATE SKIP LOCKED under a lease, and
-- sweep for due work, so a lost Realtime event or a crashed worker never loses a job.
-- The schema `internal` is not exposed through the API; workers reach it only through the versioned
-- functions in `public` below, which only `service_role` may execute.
-- =====================================================================================================

create schema if not exists internal;  -- created by the foundations migration; kept for clarity
revoke all on schema internal from public, anon, authenticated;
grant usage on schema internal to service_role;

-- -----------------------------------------------------------------------------------------------------
-- table
-- -----------------------------------------------------------------------------------------------------
create type internal.job_status as enum ('queued', 'running', 'succeeded', 'failed', 'dead');
comment on type internal.job_status is
  'queued: waiting to run; running: claimed under a lease; succeeded: done; '
  'failed: the last attempt failed and a retry is scheduled at run_after; dead: gave up (see last_error).';

create table internal.jobs (
  id bigint generated always as identity primary key,
  kind text not null check (kind ~ '^[a-z][a-z0-9_]{0,62}$'),
  payload jsonb not null default '{}'::jsonb check (jsonb_typeof(payload) = 'object'),
  dedupe_key text unique,
  ordering_key text,
  status internal.job_status not null default 'queued',
  attempts integer not null default 0 check (attempts >= 0),
  max_attempts integer not null default 5 check (max_attempts between 1 and 100),
  run_after timestamptz not null default now(),
  lease_until timestamptz,
  locked_by text,
  last_error text,
  result jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz
);

comment on table internal.jobs is 'Durable AI work (chat replies, analyses, summaries). One row per piece of work.';
comment on column internal.jobs.kind is 'What to do, e.g. chat_reply; workers claim the kinds they handle.';
comment on column internal.jobs.payload is 'Input of the job (ids, never user content copies).';
comment on column internal.jobs.dedupe_key is 'At most one job per key, e.g. chat_reply:<message id>.';
comment on column internal.jobs.ordering_key is
  'Jobs sharing a key run one at a time in id order (e.g. the conversation, so replies keep their order).';
comment on column internal.jobs.attempts is 'Claims so far, including the running one.';
comment on column internal.jobs.run_after is 'Not claimed before this time (retries back off through it).';
comment on column internal.jobs.lease_until is 'A running job whose lease passed is reclaimed by another worker.';
comment on column internal.jobs.locked_by is 'The worker holding the lease.';
comment on column internal.jobs.last_error is 'Why the last attempt failed; for dead jobs, why it gave up.';

-- -----------------------------------------------------------------------------------------------------
-- indexes
-- -----------------------------------------------------------------------------------------------------
create index jobs_due_idx on internal.jobs (run_after, id) where status in ('queued', 'failed');
create index jobs_lease_idx on internal.jobs (lease_until) where status = 'running';
create index jobs_ordering_idx on internal.jobs (ordering_key, id) where status in ('queued', 'running', 'failed');
create index jobs_problem_idx on internal.jobs (updated_at) where status in ('failed', 'dead');

-- -----------------------------------------------------------------------------------------------------
-- rls: nobody but the service role (BYPASSRLS) sees jobs, also over Realtime.
-- -----------------------------------------------------------------------------------------------------
alter table internal.jobs enable row level security;

-- -----------------------------------------------------------------------------------------------------
-- grants
-- -----------------------------------------------------------------------------------------------------
revoke all on internal.jobs from public, anon, authenticated;
grant select, insert, update on internal.jobs to service_role;

-- Workers subscribe to job inserts as their wake-up signal.
alter publication supabase_realtime add table internal.jobs;

-- -----------------------------------------------------------------------------------------------------
-- enqueue (called by triggers in the same transaction as the row that asks for the work)
-- -----------------------------------------------------------------------------------------------------
create function internal.enqueue_job(
  p_kind text,
  p_payload jsonb,
  p_dedupe_key text default null,
  p_ordering_key text default null,
  p_run_after timestamptz default now(),
  p_max_attempts integer default 5
) returns bigint
  language sql
  set search_path = ''
  as $$
  insert into internal.jobs (kind, payload, dedupe_key, ordering_key, run_after, max_attempts)
  values (p_kind, p_payload, p_dedupe_key, p_ordering_key, p_run_after, p_max_attempts)
  on conflict (dedupe_key) do nothing
  returning id
$$;
comment on function internal.enqueue_job is
  'Queue a job; a job with the same dedupe_key already present makes this a no-op (returns null).';

-- -----------------------------------------------------------------------------------------------------
-- worker functions (versioned names; service_role only)
-- -----------------------------------------------------------------------------------------------------

-- Claim up to p_limit due jobs of the given kinds for p_worker, leased for p_lease_seconds.
-- A job is due when queued/failed with run_after passed, or running with an expired lease (its worker
-- died). Jobs sharing an ordering_key are claimed one at a time, oldest first. Expired jobs that used
-- up their attempts become dead instead.
-- The two kinds of due job are claimed by two statements, expired leases first (they were due before
-- anything still queued): each then walks its own partial index in order and stops after p_limit rows,
-- where one statement with `or` scanned and sorted the whole backlog on every claim.
create function public.claim_jobs_v1(
  p_worker text,
  p_kinds text[],
  p_limit integer default 1,
  p_lease_seconds integer default 60
) returns setof internal.jobs
  language plpgsql
  set search_path = ''
  as $$
declare
  wanted integer := least(greatest(p_limit, 0), 100);
  claimed integer;
begin
  if p_worker is null or p_worker = '' then
    raise exception 'claim_jobs_v1: p_worker is required' using errcode = '22023';
  end if;
  if p_lease_seconds not between 1 and 3600 then
    raise exception 'claim_jobs_v1: p_lease_seconds must be between 1 and 3600' using errcode = '22023';
  end if;

  update internal.jobs
     set status = 'dead', lease_until = null, locked_by = null, updated_at = now(), finished_at = now(),
         last_error = coalesce(last_error || '; ', '') || 'lease expired on the last attempt (worker lost)'
   where status = 'running' and lease_until < now() and attempts >= max_attempts and kind = any(p_kinds);

  -- Running jobs whose lease expired (jobs_lease_idx).
  return query
  with candidates as (
    select j.id
      from internal.jobs j
     where j.status = 'running' and j.lease_until < now()
       and j.kind = any(p_kinds)
       and (j.ordering_key is null or not exists (
             select 1 from internal.jobs e
              where e.ordering_key = j.ordering_key
                and e.id < j.id
                and e.status in ('queued', 'running', 'failed')))
     order by j.run_after, j.id
     limit wanted
       for update skip locked
  )
  update internal.jobs j
     set status = 'running',
         attempts = j.attempts + 1,
         lease_until = now() + make_interval(secs => p_lease_seconds),
         locked_by = p_worker,
         updated_at = now()
    from candidates c
   where j.id = c.id
  returning j.*;
  get diagnostics claimed = row_count;
  if claimed >= wanted then
    return;
  end if;

  -- Queued and retrying jobs whose time has come, oldest first (jobs_due_idx, read in order).
  return query
  with candidates as (
    select j.id
      from internal.jobs j
     where j.status in ('queued', 'failed') and j.run_after <= now()
       and j.kind = any(p_kinds)
       and (j.ordering_key is null or not exists (
             select 1 from internal.jobs e
              where e.ordering_key = j.ordering_key
                and e.id < j.id
                and e.status in ('queued', 'running', 'failed')))
     order by j.run_after, j.id
     limit wanted - claimed
       for update skip locked
  )
  update internal.jobs j
     set status = 'running',
         attempts = j.attempts + 1,
         lease_until = now() + make_interval(secs => p_lease_seconds),
         locked_by = p_worker,
         updated_at = now()
    from candidates c
   where j.id = c.id
  returning j.*;
end
$$;
comment on function public.claim_jobs_v1 is
  'Workers: claim due jobs (SKIP LOCKED, leases, per-ordering_key order). service_role only.';

-- Refuse unless p_worker still holds the job's lease (SQLSTATE PT409: HTTP 409 through the REST API).
create function internal.assert_lease(p_job_id bigint, p_worker text) returns internal.jobs
  language plpgsql
  set search_path = ''
  as $$
declare
  job internal.jobs;
begin
  select * into job from internal.jobs where id = p_job_id for update;
  if not found then
    raise exception 'job % does not exist', p_job_id using errcode = 'PT404';
  end if;
  if job.status <> 'running' or job.locked_by is distinct from p_worker then
    raise exception 'job % is not leased to worker %', p_job_id, p_worker
      using errcode = 'PT409', hint = 'The lease expired and another worker took the job over.';
  end if;
  return job;
end
$$;

create function public.extend_job_lease_v1(p_job_id bigint, p_worker text, p_lease_seconds integer default 60)
  returns timestamptz
  language plpgsql
  set search_path = ''
  as $$
declare
  new_lease timestamptz := now() + make_interval(secs => least(greatest(p_lease_seconds, 1), 3600));
begin
  perform internal.assert_lease(p_job_id, p_worker);
  update internal.jobs set lease_until = new_lease, updated_at = now() where id = p_job_id;
  return new_lease;
end
$$;
comment on function public.extend_job_lease_v1 is 'Workers: heartbeat during long work. service_role only.';

create function public.complete_job_v1(p_job_id bigint, p_worker text, p_result jsonb default null)
  returns void
  language plpgsql
  set search_path = ''
  as $$
begin
  perform internal.assert_lease(p_job_id, p_worker);
  update internal.jobs
     set status = 'succeeded', result = p_result, lease_until = null, updated_at = now(), finished_at = now()
   where id = p_job_id;
end
$$;
comment on function public.complete_job_v1 is
  'Workers: finish a job (refused if the lease was lost). service_role only.';

-- Record a failed attempt: retryable failures back off exponentially with jitter (at least
-- p_retry_after seconds, e.g. from a 429's retry-after); permanent ones, or the last attempt, are dead.
create function public.fail_job_v1(
  p_job_id bigint,
  p_worker text,
  p_error text,
  p_retryable boolean default true,
  p_retry_after double precision default null
) returns internal.job_status
  language plpgsql
  set search_path = ''
  as $$
declare
  job internal.jobs := internal.assert_lease(p_job_id, p_worker);
  backoff double precision;
  next_status internal.job_status;
begin
  backoff := least(2.0 * power(2, greatest(job.attempts - 1, 0)), 300.0) * (0.75 + random() * 0.5);
  backoff := greatest(backoff, coalesce(p_retry_after, 0));
  next_status := case when p_retryable and job.attempts < job.max_attempts then 'failed' else 'dead' end;
  update internal.jobs
     set status = next_status,
         last_error = left(p_error, 2000),
         run_after = case when next_status = 'failed' then now() + make_interval(secs => backoff) else run_after end,
         lease_until = null,
         locked_by = null,
         updated_at = now(),
         finished_at = case when next_status = 'dead' then now() end
   where id = p_job_id;
  return next_status;
end
$$;
comment on function public.fail_job_v1 is
  'Workers: record a failed attempt; retry with backoff or give up (dead). service_role only.';

-- Graceful shutdown: hand a claimed job back without counting the attempt.
create function public.release_job_v1(p_job_id bigint, p_worker text) returns void
  language plpgsql
  set search_path = ''
  as $$
begin
  perform internal.assert_lease(p_job_id, p_worker);
  update internal.jobs
     set status = 'queued', attempts = greatest(attempts - 1, 0), lease_until = null, locked_by = null,
         updated_at = now()
   where id = p_job_id;
end
$$;
comment on function public.release_job_v1 is 'Workers: give a claimed job back on shutdown. service_role only.';

revoke execute on function public.claim_jobs_v1, public.extend_job_lease_v1, public.complete_job_v1,
  public.fail_job_v1, public.release_job_v1 from public, anon, authenticated;
grant execute on function public.claim_jobs_v1, public.extend_job_lease_v1, public.complete_job_v1,
  public.fail_job_v1, public.release_job_v1 to service_role;
revoke execute on function internal.enqueue_job, internal.assert_lease from public, anon, authenticated;
grant execute on function internal.enqueue_job, internal.assert_lease to service_role;

-- -----------------------------------------------------------------------------------------------------
-- operator tools (Supabase Studio)
-- -----------------------------------------------------------------------------------------------------
create view internal.job_problems
  with (security_invoker = true)
  as
select id,
       kind,
       case
         when status = 'running' and lease_until < now() then 'stuck: lease expired'
         when status = 'dead' then 'dead: gave up'
         else 'retrying: attempt ' || attempts || ' of ' || max_attempts
       end as problem,
       status,
       attempts,
       max_attempts,
       last_error,
       payload,
       ordering_key,
       locked_by,
       lease_until,
       run_after,
       created_at,
       updated_at
  from internal.jobs
 where status in ('failed', 'dead') or (status = 'running' and lease_until < now())
 order by updated_at desc;
comment on view internal.job_problems is
  'Jobs that need a look: stuck (lease expired), retrying, or dead. Retry one with internal.retry_job(id).';

create function internal.retry_job(p_job_id bigint) returns internal.jobs
  language plpgsql
  set search_path = ''
  as $$
declare
  job internal.jobs;
begin
  update internal.jobs
     set status = 'queued', attempts = 0, run_after = now(), lease_until = null, locked_by = null,
         finished_at = null, updated_at = now(),
         last_error = coalesce(last_error, '') || ' [retried by operator ' || now()::text || ']'
   where id = p_job_id and status in ('failed', 'dead', 'running')
  returning * into job;
  if not found then
    raise exception 'job % does not exist or is not failed, dead or stuck', p_job_id using errcode = 'P0002';
  end if;
  return job;
end
$$;
comment on function internal.retry_job is 'Operators: run a failed, dead or stuck job again from scratch.';
revoke execute on function internal.retry_job from public, anon, authenticated;
grant execute on function internal.retry_job to service_role;

-- -----------------------------------------------------------------------------------------------------
-- table: ai_usage (the ledger of every model call that wrote something; basis for quotas and costs)
-- -----------------------------------------------------------------------------------------------------
create table internal.ai_usage (
  id bigint generated always as identity primary key,
  user_id uuid references auth.users (id) on delete cascade,
  job_id bigint,
  kind text not null,
  subject_id uuid,
  model text not null,
  prompt_version text not null,
  input_tokens integer not null default 0 check (input_tokens >= 0),
  output_tokens integer not null default 0 check (output_tokens >= 0),
  cache_read_tokens integer not null default 0 check (cache_read_tokens >= 0),
  cache_write_tokens integer not null default 0 check (cache_write_tokens >= 0),
  created_at timestamptz not null default now()
);
comment on table internal.ai_usage is
  'One row per AI write (reply, analysis, recommendations, summary): model, prompt version and tokens. '
  'Sum it per user and day for usage reports and quotas.';
comment on column internal.ai_usage.kind is 'The job kind that called the model, e.g. checkin_analysis.';
comment on column internal.ai_usage.subject_id is 'What was written: the message, check-in or summary''s user.';

create index ai_usage_user_id_created_at_idx on internal.ai_usage (user_id, created_at);
alter table internal.ai_usage enable row level security;
revoke all on table internal.ai_usage from public, anon, authenticated;
grant select, insert on table internal.ai_usage to service_role;

create function internal.record_usage(
  p_job internal.jobs, p_user_id uuid, p_subject_id uuid, p_model text, p_prompt_version text,
  p_input_tokens integer, p_output_tokens integer, p_cache_read_tokens integer, p_cache_write_tokens integer
) returns void
  language sql
  set search_path = ''
as $$
  insert into internal.ai_usage (user_id, job_id, kind, subject_id, model, prompt_version, input_tokens,
                                 output_tokens, cache_read_tokens, cache_write_tokens)
  values (p_user_id, p_job.id, p_job.kind, p_subject_id, p_model, p_prompt_version, coalesce(p_input_tokens, 0),
          coalesce(p_output_tokens, 0), coalesce(p_cache_read_tokens, 0), coalesce(p_cache_write_tokens, 0))
$$;
revoke execute on function internal.record_usage from public, anon, authenticated;
grant execute on function internal.record_usage to service_role;
