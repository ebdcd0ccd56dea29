-- =====================================================================================================
-- Everything a chat reply needs, in one round trip: the worker holding a chat_reply job asks for its
-- context (coach, prompts, guidelines, the user's profile and memory, the conversation summary and the
-- latest turns) and builds the prompt from it. service_role only; refused without the lease.
-- =====================================================================================================

create function public.chat_reply_context_v1(p_job_id bigint, p_worker text, p_history_limit integer default 60)
  returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.assert_lease(p_job_id, p_worker);
  message public.messages;
  conversation public.conversations;
  result jsonb;
begin
  select * into message from public.messages where id = (job.payload ->> 'message_id')::uuid;
  if not found then
    raise exception 'the message of job % no longer exists', p_job_id using errcode = 'PT404';
  end if;
  select * into conversation from public.conversations where id = message.conversation_id;

  select jsonb_build_object(
    'message', jsonb_build_object('id', message.id, 'content', message.content, 'created_at', message.created_at),
    'reply_id', (job.payload ->> 'assistant_message_id')::uuid,
    'conversation', jsonb_build_object(
      'id', conversation.id, 'title', conversation.title, 'summary', conversation.summary,
      'summary_through_message_id', conversation.summary_through_message_id,
      'category_id', conversation.category_id
    ),
    'coach', (select jsonb_build_object('id', c.id, 'slug', c.slug, 'name', c.name,
                                        'description', c.description, 'intro', c.intro)
                from public.coaches c where c.id = conversation.coach_id),
    'persona', (select to_jsonb(p) from public.resolve_prompt_v1('coach_persona', conversation.coach_id) p),
    'prompt', (select to_jsonb(p) from public.resolve_prompt_v1('chat_reply', conversation.coach_id) p),
    'guidelines', coalesce((select jsonb_agg(to_jsonb(g)) from public.category_guidelines_v1(conversation.category_id) g),
                           '[]'::jsonb),
    'category', (select jsonb_build_object('slug', k.slug, 'name', k.name) from public.categories k
                  where k.id = conversation.category_id),
    'profile', (select jsonb_build_object('display_name', p.display_name, 'timezone', p.timezone,
                                          'locale', p.locale, 'birth_date', p.birth_date)
                  from public.profiles p where p.id = message.user_id),
    'memory', (select jsonb_build_object('summary', s.summary, 'key_facts', s.key_facts)
                 from public.user_summaries s where s.user_id = message.user_id),
    -- Operator settings of replies (internal.settings), null when not set.
    'settings', (select coalesce(jsonb_object_agg(s.key, s.value), '{}'::jsonb) from internal.settings s
                  where s.key in ('reply.history_token_budget', 'reply.delta_interval_ms',
                                  'reply.checkpoint_interval_ms')),
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
           limit greatest(p_history_limit, 1)
        ) h
    ), '[]'::jsonb)
  ) into result;
  return result;
end;
$$;
comment on function public.chat_reply_context_v1(bigint, text, integer) is
  'Workers: the context of a chat reply (coach, prompts, guidelines, profile, memory, summary, latest turns) '
  'in one call. Refused without the lease. service_role only.';

revoke execute on function public.chat_reply_context_v1(bigint, text, integer) from public, anon, authenticated;
grant execute on function public.chat_reply_context_v1(bigint, text, integer) to service_role;
