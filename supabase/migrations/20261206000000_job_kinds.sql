-- =====================================================================================================
-- One job-kind contract.
--
-- Every kind of AI work is registered once, in internal.job_kinds: what it does, its prompt kind,
-- whether it streams, and two functions of its own:
--
--   context function  internal.<kind>_context(p_job internal.jobs) returns jsonb
--                     what the worker needs to do the job (prompt, the rows it is about); built by the
--                     claim that leases the job, so a job costs the worker no request before its model
--   finish function   internal.<kind>_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
--                     writes the worker's validated output where it belongs (a message, a check-in's
--                     analysis, recommendations, ...) and returns the job's result ({"subject_id": the
--                     row written, ...})
--
-- The queue's core below knows no kind by name. A worker claims with claim_jobs_v4, which first
-- finishes what the worker sends back (each item through internal.finish_job: the kind's finish
-- function, the usage ledger, the job's completion, in one subtransaction), then leases due jobs and
-- returns each with its context. A kind's whole story (trigger, registry row, context, finish, prompt)
-- lives in one migration, and its worker side in one module of workers/kinds/.
--
-- Prompt kinds become rows (internal.prompt_kinds) instead of an enum, so a migration can add a kind
-- and use it in the same transaction.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- table: prompt_kinds (replaces the enum internal.prompt_kind)
-- -----------------------------------------------------------------------------------------------------
create table internal.prompt_kinds (
  name text primary key,
  description text not null,
  created_at timestamptz not null default now(),
  constraint prompt_kinds_name_format check (name ~ '^[a-z][a-z0-9_]{0,62}$'),
  constraint prompt_kinds_description_1_to_2000_characters check (char_length(btrim(description)) between 1 and 2000)
);
comment on table internal.prompt_kinds is
  'What a prompt can be for: a job kind''s prompt (e.g. chat_reply) or a piece inserted into others '
  '(coach_persona). internal.prompts.kind and internal.prompt_assignments.kind name one of these.';
comment on column internal.prompt_kinds.name is 'The kind, e.g. chat_reply.';
comment on column internal.prompt_kinds.description is 'What prompts of this kind do and which placeholders they get.';
comment on column internal.prompt_kinds.created_at is 'When the kind was added.';

alter table internal.prompt_kinds enable row level security;
revoke all on table internal.prompt_kinds from public, anon, authenticated, service_role;
grant select on table internal.prompt_kinds to service_role;

insert into internal.prompt_kinds (name, description) values
  ('coach_persona', 'Who a coach is (voice, approach); inserted into other prompts as {{coach_persona}}.'),
  ('chat_reply', 'The system prompt of a coach''s reply in a conversation.'),
  ('checkin_analysis', 'Summary and insights of a completed check-in (tool record_analysis).'),
  ('recommendations', '1-5 next steps after a check-in analysis (tool record_recommendations).'),
  ('user_summary', 'The AI''s memory of a user: summary and key facts (tool record_memory).'),
  ('conversation_summary', 'Compacts the older turns of a long conversation.'),
  ('followup', 'A proactive coach message some time after a check-in.');

-- The enum columns become text naming a prompt kind; the view and keys over them are rebuilt around it.
drop view internal.active_prompts;
alter table internal.prompt_assignments drop constraint prompt_assignments_prompt_fkey;
alter table internal.prompts alter column kind type text using kind::text;
alter table internal.prompt_assignments alter column kind type text using kind::text;
alter table internal.prompts
  add constraint prompts_kind_fkey foreign key (kind) references internal.prompt_kinds (name) on update cascade;
alter table internal.prompt_assignments
  add constraint prompt_assignments_prompt_fkey foreign key (prompt_name, kind)
    references internal.prompts (name, kind) on update cascade;
drop type internal.prompt_kind;
create index prompts_kind_idx on internal.prompts (kind);
comment on column internal.prompts.kind is 'What the prompt is for: a row of internal.prompt_kinds.';
comment on column internal.prompt_assignments.kind is 'The prompt kind (internal.prompt_kinds); the prompt must be of it.';

create view internal.active_prompts
  with (security_invoker = true)
  as
select a.kind,
       coalesce(c.slug, '(default)') as coach,
       a.prompt_name,
       v.version,
       v.prompt_name || '@v' || v.version as prompt_version,
       coalesce(v.model, s.value #>> '{}', d.value #>> '{}') as model,
       v.max_tokens,
       v.temperature,
       v.change_note,
       v.created_at as version_created_at,
       v.template
  from internal.prompt_assignments a
  left join public.coaches c on c.id = a.coach_id
  left join internal.prompt_versions v on v.prompt_name = a.prompt_name and v.is_active
  left join internal.settings s on s.key = 'model.' || a.kind
  left join internal.settings d on d.key = 'model.default'
 order by a.kind, c.sort_order nulls first;
comment on view internal.active_prompts is
  'What each prompt kind and coach uses right now: prompt, active version, effective model. A null version '
  'means the assigned prompt has no active version.';
revoke all on internal.active_prompts from public, anon, authenticated, service_role;
grant select on internal.active_prompts to service_role;

-- The active prompt of a kind for a coach (the coach's own assignment, else the default), as one JSON
-- object for a context: {prompt_name, version, prompt_version, template, model, max_tokens, temperature}.
-- PL/pgSQL so that its plan is kept per session (a SQL function with SET is planned on every call).
create function internal.resolve_prompt(p_kind text, p_coach_id uuid default null) returns jsonb
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  found jsonb;
begin
  select jsonb_build_object(
           'prompt_name', v.prompt_name,
           'version', v.version,
           'prompt_version', v.prompt_name || '@v' || v.version,
           'template', v.template,
           'model', coalesce(v.model, s.value #>> '{}', d.value #>> '{}'),
           'max_tokens', v.max_tokens,
           'temperature', v.temperature)
    into found
    from internal.prompt_assignments a
    join internal.prompt_versions v on v.prompt_name = a.prompt_name and v.is_active
    left join internal.settings s on s.key = 'model.' || p_kind
    left join internal.settings d on d.key = 'model.default'
   where a.kind = p_kind
     and (a.coach_id = p_coach_id or a.coach_id is null)
   order by a.coach_id is null
   limit 1;
  return found;
end;
$$;
comment on function internal.resolve_prompt(text, uuid) is
  'The active prompt of a prompt kind for a coach (its own assignment, else the default) as JSON, with the '
  'effective model; null when none is assigned or active.';

-- The guidelines of a category and its parent, parent first, as a JSON array of
-- {category_id, slug, name, guidelines, avoid, escalation}.
create function internal.category_guidelines(p_category_id uuid) returns jsonb
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  found jsonb;
begin
  select coalesce(jsonb_agg(jsonb_build_object('category_id', c.id, 'slug', c.slug, 'name', c.name,
                                               'guidelines', g.guidelines, 'avoid', g.avoid,
                                               'escalation', g.escalation)
                            order by c.parent_id nulls first), '[]'::jsonb)
    into found
    from public.categories c
    join internal.category_guidelines g on g.category_id = c.id
   where c.id = p_category_id
      or c.id = (select k.parent_id from public.categories k where k.id = p_category_id);
  return found;
end;
$$;
comment on function internal.category_guidelines(uuid) is
  'The guidelines of a category and its parent (parent first) as a JSON array, for contexts.';

-- An operator setting's JSON value, or p_default.
create function internal.setting(p_key text, p_default jsonb default null) returns jsonb
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  found jsonb;
begin
  select s.value into found from internal.settings s where s.key = p_key;
  return coalesce(found, p_default);
end;
$$;
comment on function internal.setting(text, jsonb) is 'The value of an operator setting (internal.settings), or p_default.';

-- -----------------------------------------------------------------------------------------------------
-- table: job_kinds
-- -----------------------------------------------------------------------------------------------------
create table internal.job_kinds (
  name text primary key,
  description text not null,
  prompt_kind text references internal.prompt_kinds (name) on update cascade,
  streams boolean not null default false,
  context_function regprocedure not null,
  finish_function regprocedure not null,
  max_attempts integer not null default 5,
  created_at timestamptz not null default now(),
  constraint job_kinds_name_format check (name ~ '^[a-z][a-z0-9_]{0,62}$'),
  constraint job_kinds_description_1_to_2000_characters check (char_length(btrim(description)) between 1 and 2000),
  constraint job_kinds_max_attempts_between_1_and_100 check (max_attempts between 1 and 100)
);
comment on table internal.job_kinds is
  'Every kind of AI work, registered once: what it does, its prompt, whether it streams, and the two '
  'functions the queue calls for it. internal.jobs.kind names one of these. Added by the kind''s own '
  'migration; its worker code is workers/kinds/<name>.py.';
comment on column internal.job_kinds.name is 'The kind, e.g. chat_reply (internal.jobs.kind).';
comment on column internal.job_kinds.description is 'What the job does, when it is queued and what it writes.';
comment on column internal.job_kinds.prompt_kind is 'The kind of prompt its model call uses (internal.active_prompts); null: no prompt.';
comment on column internal.job_kinds.streams is 'Whether its output streams to the app while it is written (Broadcast).';
comment on column internal.job_kinds.context_function is
  'internal.<kind>_context(internal.jobs) → jsonb: what the worker needs, built when the job is claimed.';
comment on column internal.job_kinds.finish_function is
  'internal.<kind>_finish(internal.jobs, output jsonb, usage jsonb) → jsonb result: writes the output.';
comment on column internal.job_kinds.max_attempts is 'Attempts before a job of this kind is given up (dead).';
comment on column internal.job_kinds.created_at is 'When the kind was registered.';

create index job_kinds_prompt_kind_idx on internal.job_kinds (prompt_kind);

alter table internal.job_kinds enable row level security;
revoke all on table internal.job_kinds from public, anon, authenticated, service_role;
grant select on table internal.job_kinds to service_role;

-- Jobs name a registered kind (added once the kinds are registered: 20261206000900_job_kinds_cleanup).

-- Queue a job of a registered kind; max attempts come from the registry.
create or replace function internal.enqueue_job(
  p_kind text,
  p_payload jsonb,
  p_dedupe_key text default null,
  p_ordering_key text default null,
  p_run_after timestamptz default now(),
  p_max_attempts integer default null
) returns bigint
  language plpgsql
  set search_path = ''
as $$
declare
  queued bigint;
begin
  insert into internal.jobs (kind, payload, dedupe_key, ordering_key, run_after, max_attempts)
  values (p_kind, p_payload, p_dedupe_key, p_ordering_key, coalesce(p_run_after, now()),
          coalesce(p_max_attempts, (select k.max_attempts from internal.job_kinds k where k.name = p_kind), 5))
  on conflict (dedupe_key) do nothing
  returning id into queued;
  return queued;
end;
$$;
comment on function internal.enqueue_job is
  'Queue a job; a job with the same dedupe_key already present makes this a no-op (returns null).';

-- -----------------------------------------------------------------------------------------------------
-- the generic lease-and-load helper and the one way to finish
-- -----------------------------------------------------------------------------------------------------

-- The job p_worker holds (locked), refused unless it still holds the lease (PT409: HTTP 409) and, with
-- p_kind, unless the job is of that kind (22023).
create function internal.leased_job(p_job_id bigint, p_worker text, p_kind text default null)
  returns internal.jobs
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
  if p_kind is not null and job.kind <> p_kind then
    raise exception 'job % is a % job, not %', p_job_id, job.kind, p_kind using errcode = '22023';
  end if;
  return job;
end;
$$;
comment on function internal.leased_job(bigint, text, text) is
  'The job a worker holds, locked; PT409 if the worker lost its lease, 22023 if it is not of p_kind.';

-- One row of internal.ai_usage per model call in p_usage: [{model, prompt_version, input_tokens,
-- output_tokens, cache_read_tokens, cache_write_tokens}, ...].
create function internal.record_model_calls(p_job internal.jobs, p_subject_id uuid, p_usage jsonb) returns void
  language plpgsql
  set search_path = ''
as $$
begin
  if jsonb_typeof(coalesce(p_usage, '[]')) <> 'array' then
    raise exception 'usage must be a JSON array of model calls' using errcode = '22023';
  end if;
  insert into internal.ai_usage (user_id, job_id, kind, subject_id, model, prompt_version, input_tokens,
                                 output_tokens, cache_read_tokens, cache_write_tokens)
  select (p_job.payload ->> 'user_id')::uuid, p_job.id, p_job.kind, p_subject_id,
         left(coalesce(c ->> 'model', '-'), 100), left(coalesce(c ->> 'prompt_version', '-'), 100),
         greatest(coalesce((c ->> 'input_tokens')::integer, 0), 0),
         greatest(coalesce((c ->> 'output_tokens')::integer, 0), 0),
         greatest(coalesce((c ->> 'cache_read_tokens')::integer, 0), 0),
         greatest(coalesce((c ->> 'cache_write_tokens')::integer, 0), 0)
    from jsonb_array_elements(coalesce(p_usage, '[]')) as u(c);
end;
$$;
comment on function internal.record_model_calls(internal.jobs, uuid, jsonb) is
  'Record each model call of a job in internal.ai_usage (one row per call).';

-- The model and prompt version that produced an output: the last call in p_usage.
create function internal.last_call(p_usage jsonb, out model text, out prompt_version text)
  language sql
  immutable
  set search_path = ''
as $$
  select left(coalesce(p_usage -> -1 ->> 'model', '-'), 100), left(coalesce(p_usage -> -1 ->> 'prompt_version', '-'), 100)
$$;
comment on function internal.last_call(jsonb) is 'The model and prompt version of the last model call in a usage array.';

-- Finish a job p_worker holds with its output: the kind's finish function writes it, each model call is
-- recorded, the job succeeds with the finish function's result. p_item: {"id", "output", "usage"}.
create function internal.finish_job(p_worker text, p_item jsonb) returns void
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.leased_job((p_item ->> 'id')::bigint, p_worker);
  finish regprocedure;
  outcome jsonb;
  usage jsonb := coalesce(p_item -> 'usage', '[]');
begin
  select k.finish_function into finish from internal.job_kinds k where k.name = job.kind;
  if finish is null then
    raise exception 'job % is of an unregistered kind %', job.id, job.kind using errcode = '22023';
  end if;
  if jsonb_typeof(coalesce(p_item -> 'output', '{}')) <> 'object' then
    raise exception 'job %: output must be a JSON object', job.id using errcode = '22023';
  end if;
  execute format('select %s($1, $2, $3)', finish::regproc) into outcome
    using job, coalesce(p_item -> 'output', '{}'), usage;
  perform internal.record_model_calls(job, (outcome ->> 'subject_id')::uuid, usage);
  update internal.jobs
     set status = 'succeeded', result = outcome, lease_until = null, updated_at = now(), finished_at = now()
   where id = job.id;
end;
$$;
comment on function internal.finish_job(text, jsonb) is
  'Finish a leased job with its output through its kind''s finish function; record its model calls; '
  'mark it succeeded. The one way a job succeeds.';

-- What a claimed job's worker needs: its kind's context function, or the error that stopped it.
create function internal.job_context(p_job internal.jobs, out context jsonb, out error jsonb)
  language plpgsql
  set search_path = ''
as $$
declare
  build regprocedure := (select k.context_function from internal.job_kinds k where k.name = p_job.kind);
begin
  if build is null then
    error := jsonb_build_object('code', '22023', 'message', format('job kind %s is not registered', p_job.kind));
    return;
  end if;
  begin
    execute format('select %s($1)', build::regproc) into context using p_job;
  exception when others then
    context := null;
    error := jsonb_build_object('code', sqlstate, 'message', sqlerrm);
  end;
end;
$$;
comment on function internal.job_context(internal.jobs) is
  'A claimed job''s context from its kind''s context function, or {code, message} of what failed.';

revoke execute on function internal.resolve_prompt(text, uuid), internal.setting(text, jsonb),
  internal.category_guidelines(uuid),
  internal.leased_job(bigint, text, text), internal.record_model_calls(internal.jobs, uuid, jsonb),
  internal.last_call(jsonb), internal.finish_job(text, jsonb), internal.job_context(internal.jobs)
  from public, anon, authenticated;
grant execute on function internal.resolve_prompt(text, uuid), internal.setting(text, jsonb),
  internal.category_guidelines(uuid),
  internal.leased_job(bigint, text, text), internal.record_model_calls(internal.jobs, uuid, jsonb),
  internal.last_call(jsonb), internal.finish_job(text, jsonb), internal.job_context(internal.jobs)
  to service_role;

-- -----------------------------------------------------------------------------------------------------
-- fair across users: a per-user virtual clock orders the queue
-- -----------------------------------------------------------------------------------------------------
-- Each job of a user gets fair_at = the later of now and that user's clock; each ask of the user (a job
-- of a metered kind, 20261206000130_usage_limits: a message's reply, a check-in's analysis) moves the
-- clock one step (queue.fair_share_step_ms), so the jobs one ask brings (a message's assessment and
-- reply) share a fair_at. A user who sends 300 messages at once gets fair_at now, now + 1 step, now + 2
-- steps, ...; another user's message a moment later gets fair_at ≈ now and is claimed before all but the
-- first of them. An idle queue still runs everything at once: fair_at orders, run_after gates.
alter table internal.jobs
  add column user_id uuid generated always as ((payload ->> 'user_id')::uuid) stored,
  add column fair_at timestamptz not null default now();
comment on column internal.jobs.user_id is 'The user the job works for (its payload''s user_id); null for system jobs.';
comment on column internal.jobs.fair_at is
  'Claim order: the later of the queue time and the user''s clock (internal.user_queue_clock), so one '
  'user''s burst cannot delay other users'' work.';

create table internal.user_queue_clock (
  user_id uuid primary key,
  clock timestamptz not null
);
comment on table internal.user_queue_clock is
  'Each user''s virtual queue clock: the fair_at their next job gets (one step per job queued).';
comment on column internal.user_queue_clock.user_id is 'The user.';
comment on column internal.user_queue_clock.clock is 'The earliest fair_at of their next job.';
alter table internal.user_queue_clock enable row level security;
revoke all on table internal.user_queue_clock from public, anon, authenticated, service_role;

create function internal.jobs_set_fair_at() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  step interval := make_interval(secs => coalesce((internal.setting('queue.fair_share_step_ms') #>> '{}')::numeric, 1000) / 1000);
  asker uuid := (new.payload ->> 'user_id')::uuid;
begin
  if asker is null then
    new.fair_at := new.run_after;
    return new;
  end if;
  if not coalesce((select k.metered from internal.job_kinds k where k.name = new.kind), false) then
    -- Not an ask of its own (an assessment, a summary): the clock is read, not moved nor locked. (Only
    -- asks lock it, before their usage counters: a worker's finish, which updates the counters and may
    -- queue such jobs, must not take the two in the other order.)
    new.fair_at := greatest(new.run_after,
                            coalesce((select c.clock from internal.user_queue_clock c where c.user_id = asker),
                                     new.run_after));
    return new;
  end if;
  insert into internal.user_queue_clock as c (user_id, clock)
  values (asker, new.run_after + step)
  on conflict on constraint user_queue_clock_pkey
  do update set clock = greatest(c.clock, new.run_after) + step
  returning c.clock - step into new.fair_at;
  return new;
end;
$$;
comment on function internal.jobs_set_fair_at() is 'Trigger: a new job''s fair_at from its user''s queue clock.';
create trigger jobs_set_fair_at before insert on internal.jobs
  for each row execute function internal.jobs_set_fair_at();

-- Claimed in fair order (replaces jobs_due_idx, which ordered by run_after).
drop index internal.jobs_due_idx;
create index jobs_fair_idx on internal.jobs (fair_at, id) where status in ('queued', 'failed');
create index jobs_user_id_idx on internal.jobs (user_id) where status in ('queued', 'running', 'failed');

insert into internal.settings (key, value, description) values
  ('queue.fair_share_step_ms', '1000',
   'Fair queueing: each job a user queues moves their queue clock this far (about one job''s run time).')
on conflict (key) do nothing;

-- -----------------------------------------------------------------------------------------------------
-- waking the workers: Broadcast on a private topic only the service role can join
-- -----------------------------------------------------------------------------------------------------
-- Realtime only signals; the workers also sweep. internal.jobs leaves the supabase_realtime publication:
-- its changes would tell any subscriber who is active and when. Instead each statement that queues due
-- work sends one `wake` to the private topic workers:jobs, which no user may join (no realtime.messages
-- policy admits it; the service role bypasses RLS). A transaction wakes the workers once.
alter publication supabase_realtime drop table internal.jobs;

create function internal.jobs_wake_workers() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  if current_setting('coachbase.workers_woken', true) is distinct from 'yes'
     and exists (select 1 from inserted i where i.run_after <= now()) then
    perform set_config('coachbase.workers_woken', 'yes', true);
    perform realtime.send('{}'::jsonb, 'wake', 'workers:jobs', true);
  end if;
  return null;
end;
$$;
comment on function internal.jobs_wake_workers() is
  'Trigger: wake the workers (Broadcast `wake` on the private topic workers:jobs) once per transaction that '
  'queues due work.';
create trigger jobs_wake_workers after insert on internal.jobs
  referencing new table as inserted
  for each statement execute function internal.jobs_wake_workers();
revoke execute on function internal.jobs_set_fair_at(), internal.jobs_wake_workers() from public, anon, authenticated;

-- -----------------------------------------------------------------------------------------------------
-- claim_jobs_v4: finish what the worker sends back, then lease due jobs with their contexts
-- -----------------------------------------------------------------------------------------------------
--   p_finish  [{"id": 1, "output": {...}, "usage": [{model, prompt_version, tokens...}, ...]}, ...]
--             each item finished on its own (internal.finish_job in a subtransaction): a lost lease or
--             a refused output fails that item, not the others
--   returns   {"jobs": [job row + "context" + "context_error"], "finished": {"<id>": null | {code, message}}}
--             code PT409 = the lease was lost
-- A job is due when queued or failed with run_after passed, or running with an expired lease (its worker
-- died); expired ones are taken first, then the rest in fair order (fair_at). Jobs sharing an ordering_key run one at a time, oldest first;
-- an expired job on its last attempt becomes dead.
create function public.claim_jobs_v4(
  p_worker text,
  p_kinds text[],
  p_limit integer default 1,
  p_lease_seconds integer default 60,
  p_finish jsonb default '[]'
) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  wanted integer := least(greatest(coalesce(p_limit, 0), 0), 100);
  lease interval;
  item jsonb;
  finished jsonb := '{}';
  jobs jsonb := '[]';
  job internal.jobs;
  built record;
begin
  if p_worker is null or p_worker = '' then
    raise exception 'claim_jobs_v4: p_worker is required' using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception 'claim_jobs_v4: p_lease_seconds must be between 1 and 3600' using errcode = '22023';
  end if;
  if jsonb_typeof(coalesce(p_finish, '[]')) <> 'array' then
    raise exception 'claim_jobs_v4: p_finish must be a JSON array' using errcode = '22023';
  end if;
  lease := make_interval(secs => p_lease_seconds);

  for item in select value from jsonb_array_elements(coalesce(p_finish, '[]')) loop
    if jsonb_typeof(item) <> 'object' or jsonb_typeof(item -> 'id') <> 'number' then
      raise exception 'claim_jobs_v4: each p_finish item needs a numeric "id": %', left(item::text, 200)
        using errcode = '22023';
    end if;
    begin
      perform internal.finish_job(p_worker, item);
      finished := finished || jsonb_build_object(item ->> 'id', null);
    exception when others then
      finished := finished || jsonb_build_object(item ->> 'id', jsonb_build_object('code', sqlstate, 'message', sqlerrm));
    end;
  end loop;
  if jsonb_array_length(coalesce(p_finish, '[]')) = 0 then
    -- A claim alone need not wait for its WAL flush: if the server crashes before it is on disk, the jobs
    -- are simply still due and are claimed again. Finished outputs are flushed before the worker hears so.
    perform set_config('synchronous_commit', 'off', true);
  end if;

  if wanted > 0 then
    update internal.jobs
       set status = 'dead', lease_until = null, locked_by = null, updated_at = now(), finished_at = now(),
           last_error = coalesce(last_error || '; ', '') || 'lease expired on the last attempt (worker lost)'
     where status = 'running' and lease_until < now() and attempts >= max_attempts and kind = any(p_kinds);

    -- Running jobs whose lease expired (jobs_lease_idx), then queued and retrying ones in fair order
    -- (jobs_fair_idx, read in order): each statement walks its own partial index and stops after what is wanted.
    for job in
      with candidates as (
        select j.id
          from internal.jobs j
         where j.status = 'running' and j.lease_until < now() and j.kind = any(p_kinds)
           and (j.ordering_key is null or not exists (
                 select 1 from internal.jobs e
                  where e.ordering_key = j.ordering_key and e.id < j.id
                    and e.status in ('queued', 'running', 'failed')))
         order by j.run_after, j.id
         limit wanted
           for update skip locked
      )
      update internal.jobs j
         set status = 'running', attempts = j.attempts + 1, lease_until = now() + lease, locked_by = p_worker,
             updated_at = now()
        from candidates c
       where j.id = c.id
      returning j.*
    loop
      built := internal.job_context(job);
      jobs := jobs || jsonb_build_array(to_jsonb(job) || jsonb_build_object('context', built.context, 'context_error', built.error));
    end loop;

    if jsonb_array_length(jobs) < wanted then
      for job in
        with candidates as (
          select j.id
            from internal.jobs j
           where j.status in ('queued', 'failed') and j.run_after <= now() and j.kind = any(p_kinds)
             and (j.ordering_key is null or not exists (
                   select 1 from internal.jobs e
                    where e.ordering_key = j.ordering_key and e.id < j.id
                      and e.status in ('queued', 'running', 'failed')))
           order by j.fair_at, j.id
           limit wanted - jsonb_array_length(jobs)
             for update skip locked
        )
        update internal.jobs j
           set status = 'running', attempts = j.attempts + 1, lease_until = now() + lease, locked_by = p_worker,
               updated_at = now()
          from candidates c
         where j.id = c.id
        returning j.*
      loop
        built := internal.job_context(job);
        jobs := jobs || jsonb_build_array(to_jsonb(job) || jsonb_build_object('context', built.context, 'context_error', built.error));
      end loop;
    end if;
  end if;
  return jsonb_build_object('jobs', jobs, 'finished', finished);
end;
$$;
comment on function public.claim_jobs_v4 is
  'Workers: finish the jobs in p_finish ({id, output, usage}; each through its kind''s finish function, on its '
  'own), then lease up to p_limit due jobs of p_kinds, each with its kind''s context. Returns {"jobs": [...], '
  '"finished": {"<id>": null | {"code", "message"}}}; code PT409 = lease lost. service_role only.';

revoke execute on function public.claim_jobs_v4 from public, anon, authenticated;
grant execute on function public.claim_jobs_v4 to service_role;
