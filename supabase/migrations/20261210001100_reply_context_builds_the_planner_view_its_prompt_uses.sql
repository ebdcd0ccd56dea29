-- =====================================================================================================
-- A reply's context carries the planner's view only when its prompt places it.
-- internal.chat_reply_context built the planner's view (today, up to 20 active goals, the plan in focus)
-- for every reply, though only a template with {{goals}}, {{plan}} or {{today_date}} uses it (the planner's
-- and the notes app's coaches): ~0.2 ms of Postgres time a reply for every other coach under the
-- benchmarks' load. It is now built when the reply's prompt template places one of them, else null
-- (the worker fills those placeholders from it, and a template without them never reads it).
-- =====================================================================================================

create or replace function internal.chat_reply_context(p_job internal.jobs) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  message public.messages;
  conversation public.conversations;
  history_limit integer := 60;
  chat_prompt jsonb;
begin
  select * into message from public.messages where id = (p_job.payload ->> 'message_id')::uuid;
  if not found then
    raise exception 'the message of job % no longer exists', p_job.id using errcode = 'PT404';
  end if;
  select * into conversation from public.conversations where id = message.conversation_id;
  chat_prompt := internal.resolve_prompt('chat_reply', conversation.coach_id);
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
    'prompt', chat_prompt,
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
    -- The planner's view (today, the active goals, the plan in focus), for a prompt that places it: the
    -- placeholders the worker fills from it (workers/kinds/chat_reply.py, shared/prompts.py's syntax).
    'planner', case when coalesce(chat_prompt ->> 'template', '') ~ '\{\{\s*(goals|plan|today_date)\s*\}\}'
                    then internal.planner_context(message.user_id, conversation.context_type, conversation.context_id) end,
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
  'Job kind chat_reply: coach, prompts, guidelines, profile, memory, conversation summary and latest turns; '
  'the planner''s view when the prompt places {{goals}}, {{plan}} or {{today_date}}.';
