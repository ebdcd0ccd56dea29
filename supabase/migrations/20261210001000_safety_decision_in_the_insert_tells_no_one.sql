-- =====================================================================================================
-- A safety decision made in its message's own insert is not broadcast to the workers.
-- The rules decide a message in its insert when they find a crisis (internal.start_safety_assessment): no
-- worker can hold a reply to a message its transaction has not committed, so the `safety` broadcast on
-- `workers:jobs` told every worker of the fleet nothing (each parsed it; Realtime decoded and fanned it
-- out). The message's row was inserted by this transaction when its xmin is this transaction's id. A
-- message inserted in a subtransaction (a savepoint) has another xmin: its decision is broadcast as before.
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
  -- unless it is the worker finishing the assessment, which hears the decision from its finish, or the
  -- message was inserted by this very transaction (the rules decided in its insert): no worker can see it yet.
  if not exists (select 1 from public.messages m where m.id = p_message_id and m.xmin = pg_current_xact_id()::xid)
     and not exists (select 1
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
  '(workers:jobs, event safety) unless the worker holding the reply is the one finishing the assessment, or '
  'the decision is made in the message''s own insert.';
