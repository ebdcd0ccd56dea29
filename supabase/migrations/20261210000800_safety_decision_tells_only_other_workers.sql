-- =====================================================================================================
-- A safety decision is broadcast to the workers only when a worker may need it: not when the worker that
-- holds the message's reply is the one finishing its assessment.
-- Each decision went out on `workers:jobs` (event `safety`), which every worker joins: with N workers each
-- one heard every decision of the whole fleet, though the reply is held by one of them, and as a rule by
-- the one that finishes the assessment (a message's two jobs are queued together and claimed together).
-- That worker learns the decision from its finish's answer (workers/kinds/safety_assessment.py, `then`), and
-- releases the held text through the finish itself (20261210000000). The broadcast is now skipped when
-- the reply's job and the assessment's job are both running under the same worker; in every other case
-- (another worker holds the reply, the reply is queued or retrying, the assessment died or was decided
-- outside a finish) it goes out as before. Realtime stays a signal: a worker that waits also polls.
-- =====================================================================================================

-- Decide on a message from its assessments; when it is not cleared, write the reply it gets instead of
-- coaching (crisis or fallback), open an escalation for elevated and imminent, and skip its reply job.
create or replace function internal.decide_message_safety(p_message_id uuid) returns internal.message_safety
  language plpgsql
  set search_path = ''
as $$
declare
  message public.messages;
  decision internal.message_safety;
  model_said boolean;
  reply public.messages;
  lang text;
  country text;
  response text;
  template text;
begin
  select * into message from public.messages where id = p_message_id;
  model_said := exists (select 1 from internal.safety_assessments a where a.message_id = p_message_id and a.source = 'model');
  insert into internal.message_safety (message_id, user_id, risk_level, categories, guidance, decided_by, cleared)
  select p_message_id, message.user_id, max(a.risk_level),
         coalesce((select array_agg(distinct c) from internal.safety_assessments b, unnest(b.categories) c
                    where b.message_id = p_message_id), '{}'),
         coalesce((select array_agg(distinct g) from internal.safety_assessments b, unnest(b.guidance) g
                    where b.message_id = p_message_id), '{}'),
         case when model_said then 'model' else 'rules' end,
         model_said and max(a.risk_level) in ('none', 'low')
    from internal.safety_assessments a
   where a.message_id = p_message_id
  on conflict (message_id) do update
     set risk_level = excluded.risk_level, categories = excluded.categories, guidance = excluded.guidance,
         decided_by = excluded.decided_by, cleared = excluded.cleared, decided_at = now()
  returning * into decision;
  -- A worker may be holding this message's reply back: tell it (the database stays the truth; it polls),
  -- unless it is the worker finishing the assessment, which hears the decision from its finish.
  if not exists (select 1
                   from internal.jobs r
                   join internal.jobs a on a.dedupe_key = 'safety_assessment:' || p_message_id::text
                  where r.dedupe_key = 'chat_reply:' || p_message_id::text
                    and r.status = 'running' and a.status = 'running' and r.locked_by = a.locked_by) then
    perform realtime.send(jsonb_build_object('message_id', p_message_id, 'cleared', decision.cleared),
                          'safety', 'workers:jobs', true);
  end if;
  if decision.cleared then
    return decision;
  end if;

  select * into reply from public.messages where reply_to = p_message_id and role = 'assistant' for update;
  country := internal.user_country(message.user_id);
  lang := coalesce((select split_part(p.locale, '-', 1) from public.profiles p where p.id = message.user_id), 'en');
  response := case
    when decision.risk_level not in ('elevated', 'imminent') then 'fallback'
    when decision.categories && array['medical_emergency', 'infant_emergency'] then 'medical'
    when decision.categories && array['abuse_disclosure', 'child_abuse_disclosure'] then 'abuse'
    else 'crisis' end;
  select m.template into template from internal.crisis_messages m
   where m.kind in (response, 'crisis') and m.language in (lang, 'en')
   order by m.language = lang desc, m.kind = response desc
   limit 1;
  if reply.id is not null and reply.status <> 'complete' then
    update public.messages
       set content = replace(template, '{{resources}}',
                             coalesce(internal.crisis_resource_lines(country, lang), '- your local emergency number')),
           status = 'complete',
           reply_kind = case when response = 'fallback' then 'fallback' else 'crisis' end::public.reply_kind,
           model = null, prompt_version = 'crisis_messages:' || response, error = null
     where id = reply.id
    returning * into reply;
    perform realtime.send(jsonb_build_object('message_id', reply.id, 'seq', 1, 'text', reply.content),
                          'delta', 'conversation:' || reply.conversation_id, true);
    perform realtime.send(jsonb_build_object('message_id', reply.id), 'done', 'conversation:' || reply.conversation_id, true);
  end if;
  update internal.jobs
     set status = 'succeeded', finished_at = now(), updated_at = now(), lease_until = null,
         result = jsonb_build_object('skipped', 'the message got a ' || response || ' response (safety)')
   where dedupe_key = 'chat_reply:' || p_message_id::text and status in ('queued', 'failed');
  if decision.risk_level in ('elevated', 'imminent') then
    insert into internal.escalations (message_id, user_id, conversation_id, risk_level, categories, country)
    values (p_message_id, message.user_id, message.conversation_id, decision.risk_level, decision.categories, country)
    on conflict (message_id) do nothing;
  end if;
  return decision;
end;
$$;
comment on function internal.decide_message_safety(uuid) is
  'Decide on a message from its assessments; not cleared: write the crisis or fallback reply, open an '
  'escalation (elevated, imminent) and skip its chat_reply job. Broadcasts the decision to the workers '
  '(workers:jobs, event safety) unless the worker holding the reply is the one finishing the assessment.';
