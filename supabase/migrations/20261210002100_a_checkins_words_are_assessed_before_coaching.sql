-- =====================================================================================================
-- A check-in's words are assessed before coaching text is written from them.
-- Only user messages went through the safety rules. A completed check-in's note and text answers went
-- to checkin_analysis, whose summary is addressed to the person, and then to recommendations and a
-- follow-up coach message: "I want to kill myself tonight" in a check-in's note got a coaching summary,
-- no crisis lines and no escalation. Now, when a check-in is completed, the rules read its words; words
-- they rate `elevated` or `imminent` get the crisis response a message would get (the same templates and
-- crisis lines) as the check-in's summary, an escalation for operators, and no model work (no analysis,
-- hence no recommendations or follow-up from it).
-- Also: the rules read the text with typographic quotes folded to ASCII and runs of whitespace made one
-- space ("can’t breathe", as phone keyboards type it, missed the rule for "can't breathe").
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- the rules read normalised text
-- -----------------------------------------------------------------------------------------------------
create or replace function internal.match_safety_rules(p_text text)
  returns table (rule_ids bigint[], categories text[], risk_level internal.risk_level, guidance text[])
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  -- Typographic apostrophes and quotes as ASCII (chr 39 and 34), any run of whitespace (no-break and wide
  -- spaces included) as one space.
  words text := regexp_replace(translate(p_text, '’‘ʼ′＇“”„″', repeat(chr(39), 5) || repeat(chr(34), 4)),
                               '[[:space:]\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]+', ' ', 'g');
begin
  -- PL/pgSQL rather than SQL: its plan is cached, and this runs in every message insert.
  return query
    select coalesce(array_agg(r.id order by r.id), '{}'),
           coalesce(array_agg(distinct r.category), '{}'),
           coalesce(max(r.risk_level), 'none'),
           coalesce(array_agg(distinct r.guidance) filter (where r.guidance <> ''), '{}')
      from internal.safety_rules r
     where r.is_active and words ~* r.pattern;
end;
$$;

-- -----------------------------------------------------------------------------------------------------
-- the safety response, for a message's reply or a check-in's summary
-- -----------------------------------------------------------------------------------------------------
create function internal.crisis_response(p_user_id uuid, p_risk internal.risk_level, p_categories text[])
  returns table (kind text, content text, country text)
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  lang text := coalesce((select split_part(p.locale, '-', 1) from public.profiles p where p.id = p_user_id), 'en');
begin
  country := internal.user_country(p_user_id);
  kind := case
    when p_risk not in ('elevated', 'imminent') then 'fallback'
    when p_categories && array['medical_emergency', 'infant_emergency'] then 'medical'
    when p_categories && array['abuse_disclosure', 'child_abuse_disclosure'] then 'abuse'
    else 'crisis' end;
  select replace(m.template, '{{resources}}',
                 coalesce(internal.crisis_resource_lines(country, lang), '- your local emergency number'))
    into content
    from internal.crisis_messages m
   where m.kind in (crisis_response.kind, 'crisis') and m.language in (lang, 'en')
   order by m.language = lang desc, m.kind = crisis_response.kind desc
   limit 1;
  return next;
end;
$$;
comment on function internal.crisis_response(uuid, internal.risk_level, text[]) is
  'The safety response for a user: its kind (crisis, medical, abuse; fallback below elevated) and its text '
  '(internal.crisis_messages in their language, with the crisis lines of their country), and that country.';
revoke execute on function internal.crisis_response(uuid, internal.risk_level, text[]) from public, anon, authenticated;
grant execute on function internal.crisis_response(uuid, internal.risk_level, text[]) to service_role;

-- As in 20261210001000, its response from internal.crisis_response.
create or replace function internal.decide_message_safety(p_message_id uuid) returns internal.message_safety
  language plpgsql
  set search_path = ''
as $$
declare
  message public.messages;
  decision internal.message_safety;
  model_said boolean;
  reply public.messages;
  answer record;
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
  select * into answer from internal.crisis_response(message.user_id, decision.risk_level, decision.categories);
  if reply.id is not null and reply.status <> 'complete' then
    update public.messages
       set content = answer.content,
           status = 'complete',
           reply_kind = case when answer.kind = 'fallback' then 'fallback' else 'crisis' end::public.reply_kind,
           model = null, prompt_version = 'crisis_messages:' || answer.kind, error = null
     where id = reply.id
    returning * into reply;
    perform realtime.send(jsonb_build_object('message_id', reply.id, 'seq', 1, 'text', reply.content),
                          'delta', 'conversation:' || reply.conversation_id, true);
    perform realtime.send(jsonb_build_object('message_id', reply.id), 'done', 'conversation:' || reply.conversation_id, true);
  end if;
  update internal.jobs
     set status = 'succeeded', finished_at = now(), updated_at = now(), lease_until = null,
         result = jsonb_build_object('skipped', 'the message got a ' || answer.kind || ' response (safety)')
   where dedupe_key = 'chat_reply:' || p_message_id::text and status in ('queued', 'failed');
  if decision.risk_level in ('elevated', 'imminent') then
    insert into internal.escalations (message_id, user_id, conversation_id, risk_level, categories, country)
    values (p_message_id, message.user_id, message.conversation_id, decision.risk_level, decision.categories,
            answer.country)
    on conflict (message_id) do nothing;
  end if;
  return decision;
end;
$$;

-- -----------------------------------------------------------------------------------------------------
-- escalations: about a message or a check-in
-- -----------------------------------------------------------------------------------------------------
alter table internal.escalations
  alter column message_id drop not null,
  alter column conversation_id drop not null,
  add column checkin_id uuid references public.checkins (id) on delete cascade,
  add constraint escalations_about_a_message_or_a_checkin check (num_nonnulls(message_id, checkin_id) = 1);
create unique index escalations_checkin_id_key on internal.escalations (checkin_id);
comment on column internal.escalations.checkin_id is
  'The check-in whose words the safety rules rated elevated or imminent (else message_id names the message).';

-- -----------------------------------------------------------------------------------------------------
-- checkins: the words of a check-in being completed are read by the rules before anything is queued
-- -----------------------------------------------------------------------------------------------------
-- Its note and every text among its answers (a text question's, a choice's).
create function internal.checkin_words(p_note text, p_answers jsonb) returns text
  language sql
  immutable
  set search_path = ''
as $$
  select concat_ws(E'\n', nullif(p_note, ''),
                   (select string_agg(t.value #>> '{}', E'\n')
                      from jsonb_each(case when jsonb_typeof(p_answers) = 'object' then p_answers else '{}' end) a,
                           jsonb_array_elements(case jsonb_typeof(a.value) when 'array' then a.value
                                                                            else jsonb_build_array(a.value) end) t
                     where jsonb_typeof(t.value) = 'string'))
$$;
comment on function internal.checkin_words(text, jsonb) is
  'The words of a check-in the safety rules read: its note and its text answers.';
revoke execute on function internal.checkin_words(text, jsonb) from public, anon, authenticated;
grant execute on function internal.checkin_words(text, jsonb) to service_role;

-- Security definer: reads the rules, the crisis messages and the user's profile, and writes the check-in's
-- AI-owned summary.
create function internal.assess_checkin_words() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  matched record;
  answer record;
begin
  if tg_op = 'UPDATE' and old.status = 'completed' then
    return new;
  end if;
  select * into matched from internal.match_safety_rules(internal.checkin_words(new.note, new.answers));
  if matched.risk_level in ('elevated', 'imminent') then
    select * into answer from internal.crisis_response(new.user_id, matched.risk_level, matched.categories);
    new.summary := answer.content;
    new.insights := jsonb_build_object('safety_concern', true, 'risk_level', matched.risk_level,
                                       'categories', to_jsonb(matched.categories));
    new.analysis_model := null;
    new.analysis_prompt_version := 'crisis_messages:' || answer.kind;
  end if;
  return new;
end;
$$;
comment on function internal.assess_checkin_words() is
  'Trigger: a check-in being completed whose words the safety rules rate elevated or imminent gets the crisis '
  'response as its summary (analysis_prompt_version crisis_messages:<kind>) and no analysis.';
revoke execute on function internal.assess_checkin_words() from public, anon, authenticated;
create trigger checkins_assess_words before insert or update of status on public.checkins
  for each row when (new.status = 'completed') execute function internal.assess_checkin_words();

create or replace function internal.enqueue_checkin_analysis() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  if new.analysis_prompt_version like 'crisis_messages:%' then  -- the rules' crisis response (above)
    insert into internal.escalations (checkin_id, user_id, risk_level, categories, country)
    values (new.id, new.user_id, (new.insights ->> 'risk_level')::internal.risk_level,
            array(select jsonb_array_elements_text(new.insights -> 'categories')), internal.user_country(new.user_id))
    on conflict (checkin_id) do nothing;
    return null;
  end if;
  perform internal.enqueue_job(
    'checkin_analysis',
    jsonb_build_object('checkin_id', new.id, 'user_id', new.user_id),
    'checkin_analysis:' || new.id::text,
    'user:' || new.user_id::text
  );
  return null;
end;
$$;
comment on function internal.enqueue_checkin_analysis() is
  'Trigger: a completed check-in queues its analysis, unless the safety rules gave it the crisis response '
  '(then an escalation is opened instead).';
