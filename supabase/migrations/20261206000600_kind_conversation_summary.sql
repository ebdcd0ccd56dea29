-- =====================================================================================================
-- Job kind `conversation_summary`: a long conversation's older turns folded into conversations.summary.
--
--   trigger   chat_reply's finish queues it when the worker found the reply's history over its budget
--             (internal.request_conversation_summary: one at a time per conversation, in reply order)
--   context   internal.conversation_summary_context: the previous summary and the complete turns after
--             it, except the latest summary.keep_recent_turns, the prompt
--   output    {summary, through_message_id} (workers/kinds/conversation_summary.py); nothing to fold
--             yet: {summary: "", through_message_id: null}, which changes nothing
--   finish    internal.conversation_summary_finish: the summary and through which message it reaches
-- =====================================================================================================

create function internal.job_conversation(p_job internal.jobs) returns public.conversations
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  conversation public.conversations;
begin
  select * into conversation from public.conversations where id = (p_job.payload ->> 'conversation_id')::uuid;
  if not found then
    raise exception 'the conversation of job % no longer exists', p_job.id using errcode = 'PT404';
  end if;
  return conversation;
end;
$$;

create function internal.conversation_summary_context(p_job internal.jobs) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  conversation public.conversations := internal.job_conversation(p_job);
  since timestamptz := (select m.created_at from public.messages m where m.id = conversation.summary_through_message_id);
  keep_recent integer := greatest(coalesce((internal.setting('summary.keep_recent_turns') #>> '{}')::integer, 20), 0);
  max_turns integer := 200;
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
               where r.from_end > keep_recent
               order by r.created_at
               limit max_turns) t
    ), '[]'::jsonb),
    'prompt', internal.resolve_prompt('conversation_summary'),
    'token_budget', internal.setting('summary.prompt_token_budget', '12000'),
    'turn_token_cap', internal.setting('summary.turn_token_cap', '1000')
  );
end;
$$;
comment on function internal.conversation_summary_context(internal.jobs) is
  'Job kind conversation_summary: the older turns of a conversation to fold into its summary, with the prompt.';

create function internal.conversation_summary_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb)
  returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  conversation public.conversations := internal.job_conversation(p_job);
  through uuid := (p_output ->> 'through_message_id')::uuid;
begin
  if through is not null then
    if jsonb_typeof(p_output -> 'summary') <> 'string' or btrim(p_output ->> 'summary') = '' then
      raise exception 'conversation_summary output: a summary is required with through_message_id'
        using errcode = '22023';
    end if;
    if not exists (select 1 from public.messages m where m.id = through and m.conversation_id = conversation.id) then
      raise exception 'conversation_summary output: message % is not in the conversation', through
        using errcode = '22023';
    end if;
    update public.conversations
       set summary = left(p_output ->> 'summary', 20000), summary_through_message_id = through
     where id = conversation.id;
  end if;
  return jsonb_build_object('subject_id', conversation.id, 'through', through);
end;
$$;
comment on function internal.conversation_summary_finish(internal.jobs, jsonb, jsonb) is
  'Job kind conversation_summary: store the summary and through which message it reaches.';

revoke execute on function internal.job_conversation(internal.jobs),
  internal.conversation_summary_context(internal.jobs),
  internal.conversation_summary_finish(internal.jobs, jsonb, jsonb) from public, anon, authenticated;
grant execute on function internal.job_conversation(internal.jobs),
  internal.conversation_summary_context(internal.jobs),
  internal.conversation_summary_finish(internal.jobs, jsonb, jsonb) to service_role;

insert into internal.job_kinds (name, description, prompt_kind, streams, context_function, finish_function)
values (
  'conversation_summary',
  'Folds the older turns of a long conversation into conversations.summary, so that replies stay within '
  'their history budget however long the conversation runs.',
  'conversation_summary', false,
  'internal.conversation_summary_context(internal.jobs)',
  'internal.conversation_summary_finish(internal.jobs, jsonb, jsonb)'
);

insert into internal.prompts (name, kind, description) values
  ('conversation_summary', 'conversation_summary',
   'Compacts older turns of a long conversation. Placeholders: previous_summary, turns.')
on conflict (name) do nothing;

insert into internal.prompt_versions (prompt_name, version, template, model, max_tokens, temperature, is_active, change_note)
values (
  'conversation_summary', 1, $prompt$Summarise the earlier part of a coaching conversation so the coach can continue it without the full
transcript.

Summary of what came before (may be empty):
{{previous_summary}}

Turns to add to the summary:
{{turns}}

Write at most 250 words in the third person: what the person shared, what they want, what the coach
suggested, what the person agreed to try and how it went, and any open questions. Keep names, dates and
commitments exactly. Leave out greetings and small talk.$prompt$, null, 600, 0.20, true, 'First version.'
)
on conflict (prompt_name, version) do nothing;

insert into internal.prompt_assignments (kind, coach_id, prompt_name) values ('conversation_summary', null, 'conversation_summary')
on conflict (kind, coach_id) do nothing;
