-- =====================================================================================================
-- A reply's deltas carry their attempt: a reply tried again starts over, and says so.
-- A reply is streamed by one attempt of its job. When that attempt ends before the reply is complete (its
-- worker dies and another takes the job over once the lease expires, or the model's stream fails and the
-- job is retried), the next attempt generates the reply again from the start, and its deltas count `seq`
-- from 1 again. Until now nothing told an app so: applied by `seq`, the second attempt's text was mixed
-- into the first's. Every `delta` of a reply now carries `attempt` (the job's attempt, from 1): a delta of
-- a later attempt than the one shown means "start over"; deltas of an earlier one are stale (a worker that
-- lost its lease may still send a few). The worker numbers its own deltas; this migration has the two
-- database paths do the same: the finish's last delta (internal.chat_reply_finish, its job's attempt) and
-- the text a clearing safety decision sends for the reply (internal.safety_assessment_finish, the
-- attempt the worker handed over with that text in `release`).
-- =====================================================================================================

create or replace function internal.chat_reply_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
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
    perform realtime.send(jsonb_build_object('message_id', reply_id, 'seq', tail_seq, 'text', tail,
                                             'attempt', p_job.attempts), 'delta', topic, true);
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
  '(with the job''s attempt) and done; queue the conversation''s compaction when asked.';

create or replace function internal.safety_assessment_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb)
  returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  assessed uuid := (p_job.payload ->> 'message_id')::uuid;
  stamp record := internal.last_call(p_usage);
  decision internal.message_safety;
  cleared_before boolean := coalesce((select s.cleared from internal.message_safety s where s.message_id = assessed),
                                     false);
  held jsonb;
  reply public.messages;
begin
  if not coalesce((p_output ->> 'unavailable')::boolean, false) then
    insert into internal.safety_assessments (message_id, user_id, source, risk_level, categories, rationale, model,
                                             prompt_version)
    values (assessed, (p_job.payload ->> 'user_id')::uuid, 'model', (p_output ->> 'risk_level')::internal.risk_level,
            coalesce((select array_agg(c) from jsonb_array_elements_text(p_output -> 'categories') c), '{}'),
            left(coalesce(p_output ->> 'rationale', ''), 1000), stamp.model, stamp.prompt_version)
    on conflict (message_id, source) do nothing;
  end if;
  decision := internal.decide_message_safety(assessed);
  if decision.cleared and not cleared_before and jsonb_typeof(p_output -> 'release') = 'array' then
    for held in select r from jsonb_array_elements(p_output -> 'release') r loop
      select * into reply from public.messages m
       where m.id = (held ->> 'message_id')::uuid and m.reply_to = assessed and m.role = 'assistant';
      -- A release without its attempt (a worker of the release before this one) goes out as it came.
      if found and jsonb_typeof(held -> 'text') = 'string' and (held ->> 'seq')::integer >= 1 then
        perform realtime.send(jsonb_build_object('message_id', reply.id, 'seq', (held ->> 'seq')::integer,
                                                 'text', held ->> 'text')
                              || case when jsonb_typeof(held -> 'attempt') = 'number'
                                      then jsonb_build_object('attempt', held -> 'attempt')
                                      else '{}' end,
                              'delta', 'conversation:' || reply.conversation_id, true);
      end if;
    end loop;
  end if;
  return jsonb_build_object('subject_id', assessed, 'risk_level', decision.risk_level,
                            'cleared', decision.cleared, 'decided_by', decision.decided_by);
end;
$$;
comment on function internal.safety_assessment_finish(internal.jobs, jsonb, jsonb) is
  'Job kind safety_assessment: store the classifier''s assessment (unless it was unavailable) and decide; '
  'a decision that clears the message sends the reply text the worker held back for it (output.release), '
  'with the reply''s attempt.';
