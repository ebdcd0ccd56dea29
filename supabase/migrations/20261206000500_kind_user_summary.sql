-- =====================================================================================================
-- Job kind `user_summary`: the AI's memory of a user (public.user_summaries).
--
--   trigger   at most one per user at a time, after every summary.every_n_user_messages new user
--             messages, when an active user's memory is older than summary.max_age_hours, after each
--             analysed check-in, and after a forget_fact (20261124000400_user_memory)
--   context   internal.user_summary_context: the current memory, forgotten facts, new messages and
--             recent check-ins, the prompt
--   output    {summary, facts: [{id?, fact, source_message_id?}]} (workers/kinds/user_summary.py)
--   finish    internal.user_summary_finish: an existing fact's id keeps it, a source that is not one of
--             the user's messages becomes null, and a forgotten fact is dropped whatever the model said
-- =====================================================================================================

create function internal.user_summary_context(p_job internal.jobs) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  target uuid := (p_job.payload ->> 'user_id')::uuid;
  message_limit integer := 200;
  memory public.user_summaries;
begin
  if target is null then
    raise exception 'job % has no user_id', p_job.id using errcode = '22023';
  end if;
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
               order by m.created_at desc limit message_limit) m
    ), '[]'::jsonb),
    'checkins', coalesce((
      select jsonb_agg(jsonb_build_object('category', c.name, 'level', k.level, 'summary', k.summary,
                                          'completed_at', k.completed_at) order by k.completed_at desc)
        from (select * from public.checkins k where k.user_id = target and k.analyzed_at is not null
               order by k.completed_at desc limit 5) k
        join public.categories c on c.id = k.category_id
    ), '[]'::jsonb),
    'prompt', internal.resolve_prompt('user_summary'),
    'token_budget', internal.setting('summary.prompt_token_budget', '12000'),
    'turn_token_cap', internal.setting('summary.turn_token_cap', '1000')
  );
end;
$$;
comment on function internal.user_summary_context(internal.jobs) is
  'Job kind user_summary: the memory, forgotten facts, new messages and recent check-ins, with the prompt.';

create function internal.user_summary_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  target uuid := (p_job.payload ->> 'user_id')::uuid;
  stamp record := internal.last_call(p_usage);
  uuid_pattern constant text := '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
  old_facts jsonb := coalesce((select key_facts from public.user_summaries where user_id = target), '[]'::jsonb);
  facts jsonb;
begin
  if jsonb_typeof(p_output -> 'summary') <> 'string' or jsonb_typeof(coalesce(p_output -> 'facts', '[]')) <> 'array' then
    raise exception 'user_summary output: summary (string) and facts (array) are required' using errcode = '22023';
  end if;
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', coalesce(o.f ->> 'id', gen_random_uuid()::text),
           'fact', btrim(n.f ->> 'fact'),
           'source_message_id', m.id,
           'created_at', coalesce(o.f ->> 'created_at', now()::text)
         ) order by n.ord), '[]'::jsonb)
    into facts
    from jsonb_array_elements(coalesce(p_output -> 'facts', '[]')) with ordinality as n(f, ord)
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
  values (target, left(p_output ->> 'summary', 8000), facts, stamp.model, stamp.prompt_version)
  on conflict (user_id) do update
     set summary = excluded.summary, key_facts = excluded.key_facts, model = excluded.model,
         prompt_version = excluded.prompt_version;
  return jsonb_build_object('subject_id', target, 'facts', jsonb_array_length(facts));
end;
$$;
comment on function internal.user_summary_finish(internal.jobs, jsonb, jsonb) is
  'Job kind user_summary: store the memory, never a forgotten fact.';

revoke execute on function internal.user_summary_context(internal.jobs),
  internal.user_summary_finish(internal.jobs, jsonb, jsonb) from public, anon, authenticated;
grant execute on function internal.user_summary_context(internal.jobs),
  internal.user_summary_finish(internal.jobs, jsonb, jsonb) to service_role;

insert into internal.job_kinds (name, description, prompt_kind, streams, context_function, finish_function)
values (
  'user_summary',
  'Keeps the AI''s memory of a user (public.user_summaries) up to date: a compact summary and key facts, each '
  'linked to the message it came from; a fact the user asked to forget is never stored again.',
  'user_summary', false,
  'internal.user_summary_context(internal.jobs)', 'internal.user_summary_finish(internal.jobs, jsonb, jsonb)'
);

insert into internal.prompts (name, kind, description) values
  ('user_summary', 'user_summary',
   'Updates the AI''s memory of a user; answers through the record_memory tool. Placeholders: current_summary, '
   'current_facts, forgotten_facts, new_messages, recent_checkins.')
on conflict (name) do nothing;

insert into internal.prompt_versions (prompt_name, version, template, model, max_tokens, temperature, is_active, change_note)
values (
  'user_summary', 1, $prompt$You maintain a coach's memory of one person in a wellbeing coaching app: a compact summary and a list of
key facts the coach should remember across conversations.

Current summary:
{{current_summary}}

Current key facts (id, fact, source_message_id):
{{current_facts}}

Facts the person asked you to forget. Never store these again, nor anything that restates them:
{{forgotten_facts}}

New messages since the last update (id, role, text):
{{new_messages}}

Recent check-ins:
{{recent_checkins}}

Call the record_memory tool with:
- summary: at most 150 words: who they are, what they are working on, what helps them, how they like to
  be coached. Written in the third person, plain and factual.
- facts: the full updated list. Keep existing facts (with their ids) that are still true, update or drop
  those that changed, and add new durable facts (people in their life, goals, routines, preferences,
  important events) with the id of the message each came from as source_message_id. At most 40 facts,
  one short sentence each.
Only store what the person said or clearly implied about themselves. Do not store passing moods,
one-off details, or health information they did not ask the coach to keep in mind.$prompt$, null, 1500, 0.20, true, 'First version.'
)
on conflict (prompt_name, version) do nothing;

insert into internal.prompt_assignments (kind, coach_id, prompt_name) values ('user_summary', null, 'user_summary')
on conflict (kind, coach_id) do nothing;
