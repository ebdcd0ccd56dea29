-- =====================================================================================================
-- Conversation compaction and check-in follow-ups.
--
-- Compaction: when a conversation's history no longer fits the reply budget, the chat worker asks for a
-- `conversation_summary` job; it folds the older turns into conversations.summary and records through
-- which message (summary_through_message_id), so reply prompts stay bounded however long a conversation
-- runs. Follow-ups: an analysed check-in in a category with followup_after schedules a `followup` job
-- (run_after = completion + delay) that writes a proactive coach message into the user's conversation for
-- that category; a newer completed check-in in the same category cancels it.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- compaction
-- -----------------------------------------------------------------------------------------------------

-- Workers: ask for a conversation's compaction (one at a time per conversation, in its reply order).
create function public.request_conversation_summary_v1(p_job_id bigint, p_worker text) returns void
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.assert_lease(p_job_id, p_worker);
  target uuid := (job.payload ->> 'conversation_id')::uuid;
begin
  insert into internal.jobs (kind, payload, dedupe_key, ordering_key)
  values ('conversation_summary', jsonb_build_object('conversation_id', target),
          'conversation_summary:' || target::text, 'conversation:' || target::text)
  on conflict (dedupe_key) do update
     set status = 'queued', attempts = 0, run_after = now(), lease_until = null, locked_by = null,
         last_error = null, finished_at = null, result = null, updated_at = now()
   where internal.jobs.status in ('succeeded', 'dead');
end;
$$;
comment on function public.request_conversation_summary_v1(bigint, text) is
  'Workers (chat_reply): queue the compaction of the reply''s conversation. service_role only.';

create function internal.leased_conversation(p_job_id bigint, p_worker text) returns public.conversations
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.assert_lease(p_job_id, p_worker);
  conversation public.conversations;
begin
  if job.kind <> 'conversation_summary' then
    raise exception 'job % is not a conversation_summary job', p_job_id using errcode = '22023';
  end if;
  select * into conversation from public.conversations where id = (job.payload ->> 'conversation_id')::uuid;
  if not found then
    raise exception 'the conversation of job % no longer exists', p_job_id using errcode = 'PT404';
  end if;
  return conversation;
end;
$$;

-- The turns to fold: complete turns after what the summary covers, except the latest p_keep_recent.
create function public.conversation_summary_context_v1(
  p_job_id bigint, p_worker text, p_keep_recent integer default 20, p_max_turns integer default 200
) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  conversation public.conversations := internal.leased_conversation(p_job_id, p_worker);
  since timestamptz := (select m.created_at from public.messages m where m.id = conversation.summary_through_message_id);
begin
  return jsonb_build_object(
    'previous_summary', coalesce(conversation.summary, ''),
    'turns', coalesce((
      select jsonb_agg(jsonb_build_object('id', t.id, 'role', t.role, 'content', t.content) order by t.created_at)
        from (select r.id, r.role, r.content, r.created_at
                from (select m.id, m.role, m.content, m.created_at,
                             row_number() over (order by m.created_at desc) as from_end
                        from public.messages m
                       where m.conversation_id = conversation.id and m.status = 'complete' and m.content <> ''
                         and m.created_at > coalesce(since, '-infinity')) r
               where r.from_end > greatest(p_keep_recent, 0)
               order by r.created_at
               limit greatest(p_max_turns, 1)) t
    ), '[]'::jsonb),
    'prompt', (select to_jsonb(p) from public.resolve_prompt_v1('conversation_summary') p)
  );
end;
$$;
comment on function public.conversation_summary_context_v1(bigint, text, integer, integer) is
  'Workers: the older turns of a conversation to fold into its summary. service_role only.';

create function public.complete_conversation_summary_v1(
  p_job_id bigint,
  p_worker text,
  p_summary text,
  p_through_message_id uuid,
  p_model text,
  p_prompt_version text,
  p_input_tokens integer default 0,
  p_output_tokens integer default 0,
  p_cache_read_tokens integer default 0,
  p_cache_write_tokens integer default 0
) returns void
  language plpgsql
  set search_path = ''
as $$
declare
  conversation public.conversations := internal.leased_conversation(p_job_id, p_worker);
  job internal.jobs;
begin
  select * into job from internal.jobs where id = p_job_id;
  if p_through_message_id is not null then
    update public.conversations
       set summary = left(p_summary, 20000), summary_through_message_id = p_through_message_id
     where id = conversation.id;
    perform internal.record_usage(job, conversation.user_id, conversation.id, p_model, p_prompt_version,
                                  p_input_tokens, p_output_tokens, p_cache_read_tokens, p_cache_write_tokens);
  end if;
  perform public.complete_job_v1(p_job_id, p_worker, jsonb_build_object('through', p_through_message_id));
end;
$$;
comment on function public.complete_conversation_summary_v1 is
  'Workers: store the conversation summary and through which message it reaches, record usage and finish the '
  'job, atomically. service_role only.';

-- -----------------------------------------------------------------------------------------------------
-- follow-ups
-- -----------------------------------------------------------------------------------------------------

-- A newly completed check-in cancels the user's pending follow-ups in that category: they checked in again.
create function internal.cancel_followups() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  update internal.jobs
     set status = 'succeeded', finished_at = now(), updated_at = now(),
         result = jsonb_build_object('cancelled', 'a newer check-in in the same category', 'by', new.id)
   where kind = 'followup' and status in ('queued', 'failed')
     and payload ->> 'user_id' = new.user_id::text
     and payload ->> 'category_id' = new.category_id::text
     and payload ->> 'checkin_id' <> new.id::text;
  return null;
end;
$$;
comment on function internal.cancel_followups() is
  'Trigger: a completed check-in cancels the pending follow-ups of earlier check-ins in the same category.';

create trigger checkins_cancel_followups
  after insert or update of status on public.checkins
  for each row
  when (new.status = 'completed')
  execute function internal.cancel_followups();

-- An analysed check-in schedules its follow-up after the category's followup_after.
create function internal.schedule_followup() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  delay interval := (select c.followup_after from public.categories c where c.id = new.category_id);
  newer boolean := exists (
    select 1 from public.checkins k
     where k.user_id = new.user_id and k.category_id = new.category_id and k.status = 'completed'
       and k.completed_at > new.completed_at
  );
begin
  if delay is not null and not newer then
    perform internal.enqueue_job(
      'followup',
      jsonb_build_object('checkin_id', new.id, 'user_id', new.user_id, 'category_id', new.category_id),
      'followup:' || new.id::text,
      null,
      coalesce(new.completed_at, now()) + delay
    );
  end if;
  return null;
end;
$$;
comment on function internal.schedule_followup() is
  'Trigger: an analysed check-in schedules a follow-up coach message after its category''s followup_after '
  '(unless the user has already checked in again in that category).';

create trigger checkins_schedule_followup
  after update of analyzed_at on public.checkins
  for each row
  when (new.analyzed_at is not null and old.analyzed_at is null)
  execute function internal.schedule_followup();

create function public.followup_context_v1(p_job_id bigint, p_worker text) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.assert_lease(p_job_id, p_worker);
  checkin public.checkins;
  coach uuid;
begin
  if job.kind <> 'followup' then
    raise exception 'job % is not a followup job', p_job_id using errcode = '22023';
  end if;
  select * into checkin from public.checkins where id = (job.payload ->> 'checkin_id')::uuid;
  if not found then
    raise exception 'the check-in of job % no longer exists', p_job_id using errcode = 'PT404';
  end if;
  coach := coalesce(
    (select c.coach_id from public.conversations c
      where c.user_id = checkin.user_id and c.category_id = checkin.category_id and c.archived_at is null
      order by c.last_message_at desc nulls last, c.created_at desc limit 1),
    (select p.coach_id from public.profiles p where p.id = checkin.user_id),
    (select c.id from public.coaches c where c.is_active order by c.sort_order limit 1)
  );
  return internal.checkin_context(checkin) || jsonb_build_object(
    'days_since', greatest(0, extract(day from now() - checkin.completed_at))::integer,
    'coach', (select jsonb_build_object('id', c.id, 'name', c.name, 'description', c.description)
                from public.coaches c where c.id = coach),
    'persona', (select to_jsonb(p) from public.resolve_prompt_v1('coach_persona', coach) p),
    'prompt', (select to_jsonb(p) from public.resolve_prompt_v1('followup', coach) p)
  );
end;
$$;
comment on function public.followup_context_v1(bigint, text) is
  'Workers: an analysed check-in, its category, the coach and the follow-up prompt. service_role only.';

-- Write the follow-up as a coach message into the user's latest conversation for the category (a new one
-- with that coach when there is none) and finish the job, atomically.
create function public.complete_followup_v1(
  p_job_id bigint,
  p_worker text,
  p_coach_id uuid,
  p_content text,
  p_model text,
  p_prompt_version text,
  p_input_tokens integer default 0,
  p_output_tokens integer default 0,
  p_cache_read_tokens integer default 0,
  p_cache_write_tokens integer default 0
) returns public.messages
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.assert_lease(p_job_id, p_worker);
  target_user uuid := (job.payload ->> 'user_id')::uuid;
  target_category uuid := (job.payload ->> 'category_id')::uuid;
  conversation_id uuid;
  message public.messages;
begin
  select c.id into conversation_id
    from public.conversations c
   where c.user_id = target_user and c.category_id = target_category and c.archived_at is null
   order by c.last_message_at desc nulls last, c.created_at desc
   limit 1;
  if conversation_id is null then
    insert into public.conversations (user_id, coach_id, category_id)
    values (target_user, p_coach_id, target_category)
    returning id into conversation_id;
  end if;
  insert into public.messages (conversation_id, user_id, role, content, status, model, prompt_version,
                               input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
  values (conversation_id, target_user, 'assistant', p_content, 'complete', p_model, p_prompt_version,
          p_input_tokens, p_output_tokens, p_cache_read_tokens, p_cache_write_tokens)
  returning * into message;
  perform internal.record_usage(job, target_user, message.id, p_model, p_prompt_version,
                                p_input_tokens, p_output_tokens, p_cache_read_tokens, p_cache_write_tokens);
  perform public.complete_job_v1(p_job_id, p_worker, jsonb_build_object('message_id', message.id));
  return message;
end;
$$;
comment on function public.complete_followup_v1 is
  'Workers: post a follow-up coach message and finish the job, atomically. service_role only.';

revoke execute on function public.request_conversation_summary_v1(bigint, text),
  internal.leased_conversation(bigint, text),
  public.conversation_summary_context_v1(bigint, text, integer, integer),
  public.complete_conversation_summary_v1, internal.schedule_followup(), internal.cancel_followups(),
  public.followup_context_v1(bigint, text), public.complete_followup_v1
  from public, anon, authenticated;
grant execute on function public.request_conversation_summary_v1(bigint, text),
  internal.leased_conversation(bigint, text),
  public.conversation_summary_context_v1(bigint, text, integer, integer),
  public.complete_conversation_summary_v1,
  public.followup_context_v1(bigint, text), public.complete_followup_v1
  to service_role;
