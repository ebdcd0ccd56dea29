-- =====================================================================================================
-- User memory: the `user_summary` job keeps public.user_summaries (a compact summary and key facts, each
-- linked to the message it came from) up to date, and a user can make the coach forget a fact.
--
-- The job is queued (at most one per user at a time) after every N new user messages (setting
-- summary.every_n_user_messages), when an active user's memory is older than summary.max_age_hours, and
-- after each analysed check-in. A forgotten fact is removed at once, remembered in
-- internal.forgotten_facts, and filtered out of every later summary whatever the model returns.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- table: forgotten_facts
-- -----------------------------------------------------------------------------------------------------
create table internal.forgotten_facts (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  fact_id uuid,
  fact text not null,
  forgotten_at timestamptz not null default now()
);
comment on table internal.forgotten_facts is
  'Facts users asked the coach to forget (public.forget_fact). Never stored again in their memory.';
create index forgotten_facts_user_id_idx on internal.forgotten_facts (user_id);
alter table internal.forgotten_facts enable row level security;
revoke all on table internal.forgotten_facts from public, anon, authenticated;
grant select on table internal.forgotten_facts to service_role;

-- Two facts are the same when they differ only in case, spacing and punctuation.
create function internal.normalize_fact(p_fact text) returns text
  language sql
  immutable
  set search_path = ''
as $$
  select btrim(regexp_replace(lower(coalesce(p_fact, '')), '[^[:alnum:]]+', ' ', 'g'))
$$;

-- -----------------------------------------------------------------------------------------------------
-- enqueue: one user_summary job per user; a finished one is queued again
-- -----------------------------------------------------------------------------------------------------
create function internal.enqueue_user_summary(p_user_id uuid, p_reason text) returns void
  language sql
  set search_path = ''
as $$
  insert into internal.jobs (kind, payload, dedupe_key, ordering_key)
  values ('user_summary', jsonb_build_object('user_id', p_user_id, 'reason', p_reason),
          'user_summary:' || p_user_id::text, 'user:' || p_user_id::text)
  on conflict (dedupe_key) do update
     set status = 'queued', attempts = 0, run_after = now(), lease_until = null, locked_by = null,
         last_error = null, finished_at = null, result = null, updated_at = now(), payload = excluded.payload
   where internal.jobs.status in ('succeeded', 'dead')
$$;
comment on function internal.enqueue_user_summary(uuid, text) is
  'Queue a user_summary job for a user, unless one is already queued or running (deduplicated per user).';

create function internal.setting_integer(p_key text, p_default integer) returns integer
  language sql
  stable
  set search_path = ''
as $$
  select coalesce((select (s.value #>> '{}')::integer from internal.settings s where s.key = p_key), p_default)
$$;

-- After every N new user messages, or when an active user's memory is stale.
create function internal.maybe_enqueue_user_summary() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  every_n integer := internal.setting_integer('summary.every_n_user_messages', 12);
  max_age interval := make_interval(hours => internal.setting_integer('summary.max_age_hours', 24));
  since timestamptz;
  fresh integer;
begin
  select s.updated_at into since from public.user_summaries s where s.user_id = new.user_id;
  if since is not null and since < now() - max_age then
    perform internal.enqueue_user_summary(new.user_id, 'stale');
    return null;
  end if;
  select count(*) into fresh
    from (select 1 from public.messages m
           where m.user_id = new.user_id and m.role = 'user' and m.created_at > coalesce(since, '-infinity')
           limit every_n) recent;
  if fresh >= every_n then
    perform internal.enqueue_user_summary(new.user_id, 'messages');
  end if;
  return null;
end;
$$;
comment on function internal.maybe_enqueue_user_summary() is
  'Trigger: queue the user''s memory update after summary.every_n_user_messages new messages, or when it is '
  'older than summary.max_age_hours.';

create trigger messages_maybe_enqueue_user_summary
  after insert on public.messages
  for each row
  when (new.role = 'user')
  execute function internal.maybe_enqueue_user_summary();

-- An analysed check-in updates the memory too.
create function internal.enqueue_user_summary_after_analysis() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  perform internal.enqueue_user_summary(new.user_id, 'checkin');
  return null;
end;
$$;

create trigger checkins_enqueue_user_summary
  after update of analyzed_at on public.checkins
  for each row
  when (new.analyzed_at is not null and old.analyzed_at is null)
  execute function internal.enqueue_user_summary_after_analysis();

revoke execute on function internal.normalize_fact(text), internal.enqueue_user_summary(uuid, text),
  internal.setting_integer(text, integer), internal.maybe_enqueue_user_summary(),
  internal.enqueue_user_summary_after_analysis() from public, anon, authenticated;

-- -----------------------------------------------------------------------------------------------------
-- worker functions (versioned; service_role only; refused without the lease)
-- -----------------------------------------------------------------------------------------------------
create function internal.leased_user_summary_job(p_job_id bigint, p_worker text) returns internal.jobs
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.assert_lease(p_job_id, p_worker);
begin
  if job.kind <> 'user_summary' or (job.payload ->> 'user_id') is null then
    raise exception 'job % is not a user_summary job', p_job_id using errcode = '22023';
  end if;
  return job;
end;
$$;

create function public.user_summary_context_v1(p_job_id bigint, p_worker text, p_message_limit integer default 200)
  returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.leased_user_summary_job(p_job_id, p_worker);
  target uuid := (job.payload ->> 'user_id')::uuid;
  memory public.user_summaries;
begin
  select * into memory from public.user_summaries where user_id = target;
  return jsonb_build_object(
    'user_id', target,
    'summary', coalesce(memory.summary, ''),
    'facts', coalesce(memory.key_facts, '[]'::jsonb),
    'forgotten', coalesce((select jsonb_agg(f.fact order by f.forgotten_at) from internal.forgotten_facts f
                            where f.user_id = target), '[]'::jsonb),
    'messages', coalesce((
      select jsonb_agg(jsonb_build_object('id', m.id, 'role', m.role, 'content', m.content) order by m.created_at)
        from (select * from public.messages m
               where m.user_id = target and m.status = 'complete' and m.content <> ''
                 and m.created_at > coalesce(memory.updated_at, '-infinity')
               order by m.created_at desc limit greatest(p_message_limit, 1)) m
    ), '[]'::jsonb),
    'checkins', coalesce((
      select jsonb_agg(jsonb_build_object('category', c.name, 'level', k.level, 'summary', k.summary,
                                          'completed_at', k.completed_at) order by k.completed_at desc)
        from (select * from public.checkins k where k.user_id = target and k.analyzed_at is not null
               order by k.completed_at desc limit 5) k
        join public.categories c on c.id = k.category_id
    ), '[]'::jsonb),
    'prompt', (select to_jsonb(p) from public.resolve_prompt_v1('user_summary') p)
  );
end;
$$;
comment on function public.user_summary_context_v1(bigint, text, integer) is
  'Workers: a user''s memory, forgotten facts, new messages and recent check-ins, with the prompt. '
  'service_role only.';

-- Store the memory. Facts are {id?, fact, source_message_id?}: an id of an existing fact is kept (and its
-- created_at), otherwise a new id is given; a source that is not one of the user's messages becomes null;
-- anything matching a forgotten fact is dropped, whatever the model said.
create function public.complete_user_summary_v1(
  p_job_id bigint,
  p_worker text,
  p_summary text,
  p_facts jsonb,
  p_model text,
  p_prompt_version text,
  p_input_tokens integer default 0,
  p_output_tokens integer default 0,
  p_cache_read_tokens integer default 0,
  p_cache_write_tokens integer default 0
) returns public.user_summaries
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.leased_user_summary_job(p_job_id, p_worker);
  target uuid := (job.payload ->> 'user_id')::uuid;
  uuid_pattern constant text := '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
  old_facts jsonb := coalesce((select key_facts from public.user_summaries where user_id = target), '[]'::jsonb);
  facts jsonb;
  memory public.user_summaries;
begin
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', coalesce(o.f ->> 'id', gen_random_uuid()::text),
           'fact', btrim(n.f ->> 'fact'),
           'source_message_id', m.id,
           'created_at', coalesce(o.f ->> 'created_at', now()::text)
         ) order by n.ord), '[]'::jsonb)
    into facts
    from jsonb_array_elements(coalesce(p_facts, '[]'::jsonb)) with ordinality as n(f, ord)
    left join lateral (
      select e.f from jsonb_array_elements(old_facts) as e(f)
       where (n.f ->> 'id') ~ uuid_pattern and e.f ->> 'id' = n.f ->> 'id'
       limit 1
    ) o on true
    left join public.messages m
      on m.id = case when (n.f ->> 'source_message_id') ~ uuid_pattern then (n.f ->> 'source_message_id')::uuid end
     and m.user_id = target
   where jsonb_typeof(n.f -> 'fact') = 'string'
     and char_length(btrim(n.f ->> 'fact')) between 1 and 500
     and n.ord <= 40
     and not exists (select 1 from internal.forgotten_facts x
                      where x.user_id = target
                        and internal.normalize_fact(x.fact) = internal.normalize_fact(n.f ->> 'fact'));

  insert into public.user_summaries (user_id, summary, key_facts, model, prompt_version)
  values (target, left(coalesce(p_summary, ''), 8000), facts, p_model, p_prompt_version)
  on conflict (user_id) do update
     set summary = excluded.summary, key_facts = excluded.key_facts, model = excluded.model,
         prompt_version = excluded.prompt_version
  returning * into memory;
  perform internal.record_usage(job, target, target, p_model, p_prompt_version,
                                p_input_tokens, p_output_tokens, p_cache_read_tokens, p_cache_write_tokens);
  perform public.complete_job_v1(p_job_id, p_worker, jsonb_build_object('facts', jsonb_array_length(facts)));
  return memory;
end;
$$;
comment on function public.complete_user_summary_v1 is
  'Workers: store a user''s memory (never a forgotten fact), record usage and finish the job, atomically. '
  'service_role only.';

revoke execute on function internal.leased_user_summary_job(bigint, text),
  public.user_summary_context_v1(bigint, text, integer), public.complete_user_summary_v1
  from public, anon, authenticated;
grant execute on function internal.leased_user_summary_job(bigint, text),
  public.user_summary_context_v1(bigint, text, integer), public.complete_user_summary_v1
  to service_role;
grant execute on function internal.normalize_fact(text), internal.enqueue_user_summary(uuid, text)
  to service_role;

-- -----------------------------------------------------------------------------------------------------
-- forgetting (called by users)
-- -----------------------------------------------------------------------------------------------------
create function public.forget_fact(p_fact_id uuid) returns void
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  me uuid := (select auth.uid());
  fact jsonb;
begin
  if me is null then
    raise exception 'sign in to manage what the coach remembers' using errcode = '42501';
  end if;
  select e.f into fact
    from public.user_summaries s, jsonb_array_elements(s.key_facts) as e(f)
   where s.user_id = me and e.f ->> 'id' = p_fact_id::text;
  if fact is null then
    raise exception 'p_fact_id: no remembered fact %', p_fact_id using errcode = 'PT404';
  end if;
  insert into internal.forgotten_facts (user_id, fact_id, fact) values (me, p_fact_id, fact ->> 'fact');
  update public.user_summaries
     set key_facts = coalesce((select jsonb_agg(e.f order by e.ord)
                                 from jsonb_array_elements(key_facts) with ordinality as e(f, ord)
                                where e.f ->> 'id' <> p_fact_id::text), '[]'::jsonb)
   where user_id = me;
  -- Rewrite the summary text too, so it no longer mentions what was forgotten.
  perform internal.enqueue_user_summary(me, 'forget');
end;
$$;
comment on function public.forget_fact(uuid) is
  'Users: make the coach forget one of the facts in their memory (user_summaries.key_facts[].id). It is '
  'removed now and never stored again; the summary is rewritten without it.';
revoke execute on function public.forget_fact(uuid) from public, anon;
grant execute on function public.forget_fact(uuid) to authenticated;
