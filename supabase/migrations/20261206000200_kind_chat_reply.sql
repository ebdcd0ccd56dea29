-- =====================================================================================================
-- Job kind `chat_reply`: a user's message gets exactly one streamed coach reply.
--
--   trigger   a user message inserts its assistant placeholder (status pending, reply_to = the message;
--             unique, so a second reply cannot exist), starts its safety assessment (the rules pass, and
--             a safety_assessment job unless the rules found a crisis, 20261206000150) and queues a
--             chat_reply job ordered by conversation, in the same transaction (20261124000100_chat_replies,
--             restated here). The reply may generate while the message is assessed, but the worker holds
--             its text back until the message is cleared, and a database guard (20261206000150) keeps
--             coaching text out of the row until then
--   context   internal.chat_reply_context: the coach, prompts, guidelines, the user's profile and
--             memory, the conversation summary and the latest turns; the coach's tools, the reply's
--             steps stored so far (a reply taken over continues where it was) and the planner's view
--             (active goals, the plan the conversation is about)
--   streams   text goes out in batched `delta` Broadcast events on conversation:<id> while it is
--             written, and is checkpointed into the row (checkpoint_chat_replies_v1); a step that calls
--             tools is stored with its calls before they run (record_reply_step_v1, run_tool_calls_v1:
--             20261206000110_agent_tools)
--   finish    internal.chat_reply_finish: the final text, model, prompt version and tokens on the row,
--             the last delta and `done` broadcast from the database in the same transaction, and the
--             conversation's compaction queued when the worker found its history over budget
--   worker    workers/kinds/chat_reply.py
-- A dead chat_reply job marks its reply failed with a message fit for users (jobs_fail_dead_chat_reply).
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- citations: the sources a reply cited, for the app to show under it (20261208000300_second_brain)
-- -----------------------------------------------------------------------------------------------------
alter table public.messages add column citations jsonb not null default '[]',
  add constraint messages_citations_is_an_array check (jsonb_typeof(citations) = 'array');
comment on column public.messages.citations is
  'The sources an assistant reply cited as [n]: [{ref, chunk_id, source, source_id, title, excerpt}], in order '
  'of their number (source is the table, e.g. notes; source_id its row).';

-- -----------------------------------------------------------------------------------------------------
-- trigger: a user message asks for its reply
-- -----------------------------------------------------------------------------------------------------
create or replace function internal.enqueue_chat_reply() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  reply_id uuid := gen_random_uuid();
begin
  insert into public.messages (id, conversation_id, user_id, role, content, status, reply_to, reply_kind)
  values (reply_id, new.conversation_id, new.user_id, 'assistant', '', 'pending', new.id, 'coaching');
  if internal.start_safety_assessment(new) then
    return null;  -- the rules found a crisis: the reply is its crisis response, no coaching job
  end if;

  perform internal.enqueue_job(
    'chat_reply',
    jsonb_build_object(
      'message_id', new.id,
      'assistant_message_id', reply_id,
      'conversation_id', new.conversation_id,
      'user_id', new.user_id
    ),
    'chat_reply:' || new.id::text,
    'conversation:' || new.conversation_id::text
  );
  return null;
end;
$$;

-- -----------------------------------------------------------------------------------------------------
-- context
-- -----------------------------------------------------------------------------------------------------
create function internal.chat_reply_context(p_job internal.jobs) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  message public.messages;
  conversation public.conversations;
  history_limit integer := 60;
begin
  select * into message from public.messages where id = (p_job.payload ->> 'message_id')::uuid;
  if not found then
    raise exception 'the message of job % no longer exists', p_job.id using errcode = 'PT404';
  end if;
  select * into conversation from public.conversations where id = message.conversation_id;
  return jsonb_build_object(
    'message', jsonb_build_object('id', message.id, 'content', message.content, 'created_at', message.created_at),
    'reply_id', (p_job.payload ->> 'assistant_message_id')::uuid,
    'conversation', jsonb_build_object(
      'id', conversation.id, 'title', conversation.title, 'summary', conversation.summary,
      'summary_through_message_id', conversation.summary_through_message_id,
      'category_id', conversation.category_id
    ),
    'coach', (select jsonb_build_object('id', c.id, 'slug', c.slug, 'name', c.name,
                                        'description', c.description, 'intro', c.intro)
                from public.coaches c where c.id = conversation.coach_id),
    'persona', internal.resolve_prompt('coach_persona', conversation.coach_id),
    'prompt', internal.resolve_prompt('chat_reply', conversation.coach_id),
    'guidelines', internal.category_guidelines(conversation.category_id),
    'category', (select jsonb_build_object('slug', k.slug, 'name', k.name) from public.categories k
                  where k.id = conversation.category_id),
    'profile', (select jsonb_build_object('display_name', p.display_name, 'timezone', p.timezone,
                                          'locale', p.locale, 'birth_date', p.birth_date)
                  from public.profiles p where p.id = message.user_id),
    'memory', (select jsonb_build_object('summary', s.summary, 'key_facts', s.key_facts)
                 from public.user_summaries s where s.user_id = message.user_id),
    'settings', (select coalesce(jsonb_object_agg(s.key, s.value), '{}'::jsonb) from internal.settings s
                  where s.key in ('reply.history_token_budget', 'reply.delta_interval_ms',
                                  'reply.checkpoint_interval_ms', 'reply.max_tool_steps',
                                  -- knowledge retrieval (20261208000300_second_brain)
                                  'reply.retrieval', 'knowledge.embedding_model')),
    'tools', internal.coach_tools_for_model(conversation.coach_id),
    'steps', internal.stored_reply_steps((p_job.payload ->> 'assistant_message_id')::uuid),
    'planner', internal.planner_context(message.user_id, conversation.context_type, conversation.context_id),
    -- The safety decision once made (null: the reply is held back until it is), and the guidance the
    -- rules gave at insert (the apps' red lines), known before the decision.
    'safety', (select jsonb_build_object('risk_level', s.risk_level, 'categories', s.categories,
                                         'guidance', s.guidance, 'cleared', s.cleared)
                 from internal.message_safety s where s.message_id = message.id),
    'safety_guidance', coalesce((select to_jsonb(a.guidance) from internal.safety_assessments a
                                  where a.message_id = message.id and a.source = 'rule'), '[]'),
    -- The child the conversation is about, while its user is a member (20261207000900_child_context).
    'child', internal.child_context(message.user_id, conversation.child_id),
    -- Latest turns up to the message being answered, after what the conversation summary covers.
    'history', coalesce((
      select jsonb_agg(jsonb_build_object('role', h.role, 'content', h.content) order by h.created_at)
        from (
          select m.role, m.content, m.created_at
            from public.messages m
           where m.conversation_id = conversation.id
             and m.created_at <= message.created_at
             and m.status = 'complete'
             and m.content <> ''
             and (conversation.summary_through_message_id is null or m.created_at > (
                   select s.created_at from public.messages s where s.id = conversation.summary_through_message_id))
           order by m.created_at desc
           limit history_limit
        ) h
    ), '[]'::jsonb)
  );
end;
$$;
comment on function internal.chat_reply_context(internal.jobs) is
  'Job kind chat_reply: coach, prompts, guidelines, profile, memory, conversation summary and latest turns.';

-- -----------------------------------------------------------------------------------------------------
-- finish
-- -----------------------------------------------------------------------------------------------------
-- p_output: {"content": the whole reply, "tail": text not yet broadcast, "tail_seq": its delta number,
--            "compact": true when the history no longer fits the reply budget,
--            "withheld": true when the worker dropped it because the message got a crisis or fallback response,
--            "citations": the sources the reply cited (20261208000300_second_brain)}
create function internal.chat_reply_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  reply_id uuid := (p_job.payload ->> 'assistant_message_id')::uuid;
  reply public.messages;
  stamp record := internal.last_call(p_usage);
  steps record;
  tail text := coalesce(p_output ->> 'tail', '');
  tail_seq integer := (p_output ->> 'tail_seq')::integer;
  topic text;
begin
  if jsonb_typeof(p_output -> 'content') <> 'string' then
    raise exception 'chat_reply output: content must be a string' using errcode = '22023';
  end if;
  if tail <> '' and (tail_seq is null or tail_seq < 1) then
    raise exception 'chat_reply output: tail_seq must be >= 1 with a tail' using errcode = '22023';
  end if;
  select * into reply from public.messages where id = reply_id and role = 'assistant' for update;
  if not found then
    raise exception 'the reply of job % no longer exists', p_job.id using errcode = 'PT404';
  end if;
  if not exists (select 1 from internal.message_safety s where s.message_id = reply.reply_to and s.cleared) then
    -- The message got a crisis or fallback response instead (or is not decided): nothing of this reply
    -- may be stored or broadcast.
    if reply.status = 'complete' and coalesce((p_output ->> 'withheld')::boolean, false) then
      return jsonb_build_object('subject_id', reply_id, 'message_id', reply_id, 'withheld', true);
    end if;
    raise exception 'reply %: its message is not cleared for a coaching reply', reply_id
      using errcode = 'check_violation', constraint = 'messages_coaching_reply_needs_a_cleared_message';
  end if;
  if exists (select 1 from public.tool_calls c where c.message_id = reply_id and c.status = 'pending') then
    raise exception 'chat_reply output: the reply has tool calls that have not run' using errcode = '22023';
  end if;
  select coalesce(sum(s.input_tokens), 0) as input_tokens, coalesce(sum(s.output_tokens), 0) as output_tokens,
         coalesce(sum(s.cache_read_tokens), 0) as cache_read_tokens, coalesce(sum(s.cache_write_tokens), 0) as cache_write_tokens
    into steps
    from internal.reply_steps s where s.message_id = reply_id;
  if reply.status <> 'complete' then
    update public.messages
       set content = left(p_output ->> 'content', 32000),
           status = 'complete',
           model = stamp.model,
           prompt_version = stamp.prompt_version,
           -- Every model call of the reply: its tool steps (stored as they happened) and the last one.
           input_tokens = steps.input_tokens + (select coalesce(sum((c ->> 'input_tokens')::integer), 0) from jsonb_array_elements(p_usage) c),
           output_tokens = steps.output_tokens + (select coalesce(sum((c ->> 'output_tokens')::integer), 0) from jsonb_array_elements(p_usage) c),
           cache_read_tokens = steps.cache_read_tokens + (select coalesce(sum((c ->> 'cache_read_tokens')::integer), 0) from jsonb_array_elements(p_usage) c),
           cache_write_tokens = steps.cache_write_tokens + (select coalesce(sum((c ->> 'cache_write_tokens')::integer), 0) from jsonb_array_elements(p_usage) c),
           citations = case when jsonb_typeof(p_output -> 'citations') = 'array' then p_output -> 'citations' else '[]' end,
           error = null
     where id = reply_id
    returning * into reply;
  end if;
  -- The last delta and `done` go out from the database: only once the row is complete, after the rest.
  topic := 'conversation:' || reply.conversation_id;
  if tail <> '' then
    perform realtime.send(jsonb_build_object('message_id', reply_id, 'seq', tail_seq, 'text', tail), 'delta', topic, true);
  end if;
  perform realtime.send(jsonb_build_object('message_id', reply_id), 'done', topic, true);
  if coalesce((p_output ->> 'compact')::boolean, false) then
    perform internal.request_conversation_summary(reply.conversation_id, reply.user_id);
  end if;
  return jsonb_build_object('subject_id', reply_id, 'message_id', reply_id);
end;
$$;
comment on function internal.chat_reply_finish(internal.jobs, jsonb, jsonb) is
  'Job kind chat_reply: store the final reply with model, prompt version and tokens; broadcast its last delta '
  'and done; queue the conversation''s compaction when asked.';

-- Queue a conversation's compaction (one at a time per conversation, in its reply order). Defined here,
-- used by chat_reply's finish; the conversation_summary kind's own migration registers the kind.
create function internal.request_conversation_summary(p_conversation_id uuid, p_user_id uuid) returns void
  language sql
  set search_path = ''
as $$
  insert into internal.jobs (kind, payload, dedupe_key, ordering_key)
  values ('conversation_summary', jsonb_build_object('conversation_id', p_conversation_id, 'user_id', p_user_id),
          'conversation_summary:' || p_conversation_id::text, 'conversation:' || p_conversation_id::text)
  on conflict (dedupe_key) do update
     set status = 'queued', attempts = 0, run_after = now(), lease_until = null, locked_by = null,
         last_error = null, finished_at = null, result = null, updated_at = now(), payload = excluded.payload
   where internal.jobs.status in ('succeeded', 'dead')
$$;
comment on function internal.request_conversation_summary(uuid, uuid) is
  'Queue the compaction of a conversation, unless one is already queued or running.';

revoke execute on function internal.chat_reply_context(internal.jobs),
  internal.chat_reply_finish(internal.jobs, jsonb, jsonb), internal.request_conversation_summary(uuid, uuid)
  from public, anon, authenticated;
grant execute on function internal.chat_reply_context(internal.jobs),
  internal.chat_reply_finish(internal.jobs, jsonb, jsonb), internal.request_conversation_summary(uuid, uuid)
  to service_role;

-- -----------------------------------------------------------------------------------------------------
-- registry
-- -----------------------------------------------------------------------------------------------------
insert into internal.job_kinds (name, description, prompt_kind, streams, context_function, finish_function,
                                metered, ask_metric)
values (
  'chat_reply',
  'A coach''s reply to a user message: streamed over Broadcast on conversation:<id> and stored in the '
  'assistant message the message''s insert created (exactly one per message). Counts as a message and an '
  'AI request against the user''s limits (20261206000130_usage_limits).',
  'chat_reply', true,
  'internal.chat_reply_context(internal.jobs)', 'internal.chat_reply_finish(internal.jobs, jsonb, jsonb)',
  true, 'messages'
);

-- -----------------------------------------------------------------------------------------------------
-- prompt: the system prompt of every reply (operators add versions in Studio)
-- -----------------------------------------------------------------------------------------------------
insert into internal.prompts (name, kind, description) values
  ('chat_reply', 'chat_reply',
   'System prompt of every coach reply. Placeholders: coach_name, coach_persona, guidelines, display_name, '
   'user_profile, user_summary, conversation_summary, locale, timezone, today.')
on conflict (name) do nothing;

insert into internal.prompt_versions (prompt_name, version, template, model, max_tokens, temperature, is_active, change_note)
values (
  'chat_reply', 1, $prompt$You are {{coach_name}}, a coach in a wellbeing coaching app.

# Who you are
{{coach_persona}}

# How you coach
- Listen first. Reflect what you heard in a sentence before you suggest anything.
- Ask at most one question per reply, and only when it moves the conversation forward.
- Offer small, concrete steps the person can take within the next day or two; never more than three.
- Build on what the person has told you before and on their own words and goals.
- Keep replies short: two to five sentences, unless the person asks for more detail. Write plain text;
  use a short list only for steps.
- Reply in the person's language ({{locale}}). Address them as {{display_name}} now and then, not in
  every message.
- You are a coach, not a doctor, therapist, dietitian or lawyer: do not diagnose, prescribe, or give
  medication or dosage advice. When something needs a professional, say so kindly and clearly.
- If you do not know something about the person, ask rather than assume. Never invent facts about them.

# Safety comes first
If the person mentions thoughts of suicide or self-harm, a plan to harm someone, a child in danger, abuse,
or symptoms of a medical emergency, stop coaching. Respond with care, tell them clearly to contact local
emergency services now (or a crisis line in their country), and encourage them to reach out to someone
they trust. Do not try to handle it alone in the chat.

# The focus of this conversation
{{guidelines}}

# What you know about {{display_name}}
Profile: {{user_profile}}
What you remember: {{user_summary}}
Earlier in this conversation: {{conversation_summary}}

Today is {{today}} ({{timezone}}).$prompt$, null, 1024, 0.70, true, 'First version.'
)
on conflict (prompt_name, version) do nothing;

insert into internal.prompt_assignments (kind, coach_id, prompt_name) values ('chat_reply', null, 'chat_reply')
on conflict (kind, coach_id) do nothing;
