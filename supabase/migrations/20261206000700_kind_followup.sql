-- =====================================================================================================
-- Job kind `followup`: a proactive coach message some time after a check-in.
--
--   trigger   an analysed check-in in a category with followup_after schedules one (run_after =
--             completion + delay) unless a newer one exists; a newer completed check-in in the category
--             cancels it (20261124000500_compaction_and_followups; schedule_followup restated here: at
--             most one pending per user and category, even for check-ins completed in one statement)
--   context   internal.followup_context: the analysed check-in, its category, the coach (the user's
--             latest conversation in the category, else their chosen coach, else the first active
--             one), its persona and the prompt
--   output    {content, coach_id} (workers/kinds/followup.py)
--   finish    internal.followup_finish: a complete coach message in the user's latest conversation for
--             the category, or a new conversation with that coach
-- =====================================================================================================

-- At most one pending follow-up per user and category (restated from 20261124000500): check-ins completed
-- in one statement share completed_at, so ties are broken by id and only the latest schedules one; any
-- other pending follow-up of the user in the category is cancelled by it.
create or replace function internal.schedule_followup() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  delay interval := (select c.followup_after from public.categories c where c.id = new.category_id);
  newer boolean := exists (
    select 1 from public.checkins k
     where k.user_id = new.user_id and k.category_id = new.category_id and k.status = 'completed'
       and (k.completed_at, k.id) > (new.completed_at, new.id)
  );
begin
  if delay is null or newer then
    return null;
  end if;
  update internal.jobs
     set status = 'succeeded', finished_at = now(), updated_at = now(),
         result = jsonb_build_object('cancelled', 'a newer check-in in the same category', 'by', new.id)
   where kind = 'followup' and status in ('queued', 'failed') and user_id = new.user_id
     and payload ->> 'category_id' = new.category_id::text and payload ->> 'checkin_id' <> new.id::text;
  perform internal.enqueue_job(
    'followup',
    jsonb_build_object('checkin_id', new.id, 'user_id', new.user_id, 'category_id', new.category_id),
    'followup:' || new.id::text,
    null,
    coalesce(new.completed_at, now()) + delay
  );
  return null;
end;
$$;

-- The coach of a follow-up: the user's latest conversation's in the category, else their chosen coach,
-- else the first active one; retired coaches are skipped (a new conversation cannot name one).
create function internal.followup_coach(p_checkin public.checkins) returns uuid
  language sql
  stable
  set search_path = ''
as $$
  select coalesce(
    (select c.coach_id from public.conversations c join public.coaches a on a.id = c.coach_id and a.is_active
      where c.user_id = p_checkin.user_id and c.category_id = p_checkin.category_id and c.archived_at is null
      order by c.last_message_at desc nulls last, c.created_at desc limit 1),
    (select p.coach_id from public.profiles p join public.coaches a on a.id = p.coach_id and a.is_active
      where p.id = p_checkin.user_id),
    (select c.id from public.coaches c where c.is_active order by c.sort_order limit 1)
  )
$$;

create function internal.followup_context(p_job internal.jobs) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  checkin public.checkins := internal.job_checkin(p_job);
  coach uuid := internal.followup_coach(checkin);
begin
  return internal.checkin_context(checkin) || jsonb_build_object(
    'days_since', greatest(0, extract(day from now() - checkin.completed_at))::integer,
    'coach', (select jsonb_build_object('id', c.id, 'name', c.name, 'description', c.description)
                from public.coaches c where c.id = coach),
    'persona', internal.resolve_prompt('coach_persona', coach),
    'prompt', internal.resolve_prompt('followup', coach)
  );
end;
$$;
comment on function internal.followup_context(internal.jobs) is
  'Job kind followup: the analysed check-in, its category, the coach, its persona and the prompt.';

create function internal.followup_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  target_user uuid := (p_job.payload ->> 'user_id')::uuid;
  target_category uuid := (p_job.payload ->> 'category_id')::uuid;
  coach uuid := (p_output ->> 'coach_id')::uuid;
  stamp record := internal.last_call(p_usage);
  conversation_id uuid;
  message public.messages;
begin
  if jsonb_typeof(p_output -> 'content') <> 'string' or btrim(p_output ->> 'content') = '' then
    raise exception 'followup output: content is required' using errcode = '22023';
  end if;
  select c.id into conversation_id
    from public.conversations c
   where c.user_id = target_user and c.category_id = target_category and c.archived_at is null
   order by c.last_message_at desc nulls last, c.created_at desc
   limit 1;
  if conversation_id is null then
    insert into public.conversations (user_id, coach_id, category_id)
    values (target_user, coalesce(coach, internal.followup_coach(internal.job_checkin(p_job))), target_category)
    returning id into conversation_id;
  end if;
  insert into public.messages (conversation_id, user_id, role, content, status, model, prompt_version,
                               input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
  values (conversation_id, target_user, 'assistant', left(p_output ->> 'content', 32000), 'complete',
          stamp.model, stamp.prompt_version,
          (select coalesce(sum((c ->> 'input_tokens')::integer), 0) from jsonb_array_elements(p_usage) c),
          (select coalesce(sum((c ->> 'output_tokens')::integer), 0) from jsonb_array_elements(p_usage) c),
          (select coalesce(sum((c ->> 'cache_read_tokens')::integer), 0) from jsonb_array_elements(p_usage) c),
          (select coalesce(sum((c ->> 'cache_write_tokens')::integer), 0) from jsonb_array_elements(p_usage) c))
  returning * into message;
  return jsonb_build_object('subject_id', message.id, 'message_id', message.id);
end;
$$;
comment on function internal.followup_finish(internal.jobs, jsonb, jsonb) is
  'Job kind followup: post the follow-up as a coach message in the user''s conversation for the category.';

revoke execute on function internal.followup_coach(public.checkins), internal.followup_context(internal.jobs),
  internal.followup_finish(internal.jobs, jsonb, jsonb) from public, anon, authenticated;
grant execute on function internal.followup_coach(public.checkins), internal.followup_context(internal.jobs),
  internal.followup_finish(internal.jobs, jsonb, jsonb) to service_role;

insert into internal.job_kinds (name, description, prompt_kind, streams, context_function, finish_function)
values (
  'followup',
  'A proactive coach message after a check-in, once its category''s followup_after has passed (cancelled by a '
  'newer check-in in the category).',
  'followup', false,
  'internal.followup_context(internal.jobs)', 'internal.followup_finish(internal.jobs, jsonb, jsonb)'
);

insert into internal.prompts (name, kind, description) values
  ('followup', 'followup',
   'A proactive message some time after a check-in. Placeholders: coach_name, coach_persona, guidelines, '
   'category, analysis, days_since, display_name, locale.')
on conflict (name) do nothing;

insert into internal.prompt_versions (prompt_name, version, template, model, max_tokens, temperature, is_active, change_note)
values (
  'followup', 1, $prompt$You are {{coach_name}}, a coach in a wellbeing coaching app.

# Who you are
{{coach_persona}}

# Why you are writing
{{display_name}} completed a check-in on {{category}} {{days_since}} days ago. Its analysis:
{{analysis}}

Coaching guidelines for this category:
{{guidelines}}

Write one short, warm message (two or three sentences, in {{locale}}) that checks in on how things have
gone since, refers to the focus from the analysis, and invites them to reply or do a new check-in. Ask
one question at most. Do not repeat the analysis back to them, and do not make it sound automated.$prompt$, null, 300, 0.70, true, 'First version.'
)
on conflict (prompt_name, version) do nothing;

insert into internal.prompt_assignments (kind, coach_id, prompt_name) values ('followup', null, 'followup')
on conflict (kind, coach_id) do nothing;
