-- =====================================================================================================
-- The decision that clears a message sends the reply text held back for it, in its own transaction.
-- A reply may generate while its message is assessed; its text is held in the worker until the message
-- is cleared. The worker that finishes the assessment also holds the reply (as a rule), and hands the
-- text it holds to the finish (`release` in the output: the reply's id, the delta's number, its text).
-- When this finish clears the message, the text goes out as that reply's `delta` on its conversation's
-- topic from the database, at commit, instead of after the finish's answer has reached the worker and
-- the worker's own broadcast has reached Realtime (two more hops on the first text's path). When the
-- message is not cleared, or was cleared before (a finish sent again), nothing is sent and the worker
-- drops or sends the text itself. Only the reply to the assessed message can be released, on the topic
-- of its own conversation.
-- =====================================================================================================

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
      if found and jsonb_typeof(held -> 'text') = 'string' and (held ->> 'seq')::integer >= 1 then
        perform realtime.send(jsonb_build_object('message_id', reply.id, 'seq', (held ->> 'seq')::integer,
                                                 'text', held ->> 'text'),
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
  'a decision that clears the message sends the reply text the worker held back for it (output.release).';
