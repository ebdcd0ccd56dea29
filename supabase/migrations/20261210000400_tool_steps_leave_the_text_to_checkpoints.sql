-- =====================================================================================================
-- A stored tool step leaves the reply's text to the checkpoints.
-- record_reply_step_v1 wrote the reply's text so far into the row, as a checkpoint does, but without the
-- `delta_seq` and `delta_attempt` a checkpoint writes with it (20261210000200): the text included what
-- the worker had not yet numbered as a delta, beside the seq of an older checkpoint. A client catching up
-- from the row then applied deltas the text already held, and showed the turn's text twice.
-- One writer for the partial text, then: the checkpoints, which write it with the deltas it holds. The
-- step only marks the reply as streaming (and clears an earlier attempt's error), and no longer sends the
-- row's subscribers an update for every step. The signature is unchanged; a step's "content" is ignored.
-- =====================================================================================================

create or replace function public.record_reply_step_v1(p_job_id bigint, p_worker text, p_step jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.leased_job(p_job_id, p_worker, 'chat_reply');
  reply_id uuid := (job.payload ->> 'assistant_message_id')::uuid;
  reply public.messages;
  step_no integer := (p_step ->> 'step')::integer;
  usage jsonb := coalesce(p_step -> 'usage', '{}');
  call record;
begin
  if jsonb_typeof(p_step -> 'calls') <> 'array' or jsonb_array_length(p_step -> 'calls') not between 1 and 64 then
    raise exception 'record_reply_step_v1: calls must be an array of 1 to 64 tool calls' using errcode = '22023';
  end if;
  select * into reply from public.messages where id = reply_id for update;
  if not found then
    raise exception 'the reply of job % no longer exists', p_job_id using errcode = 'PT404';
  end if;
  if exists (select 1 from internal.reply_steps s where s.message_id = reply_id and s.step = step_no) then
    return internal.stored_reply_steps(reply_id) -> (step_no - 1) -> 'calls';
  end if;
  -- No tool acts for a message that is not cleared for coaching (internal.message_safety, 20261206000150).
  if not exists (select 1 from internal.message_safety s where s.message_id = reply.reply_to and s.cleared) then
    raise exception 'reply %: its message is not cleared for a coaching reply', reply_id
      using errcode = 'check_violation', constraint = 'messages_coaching_reply_needs_a_cleared_message';
  end if;
  if exists (select 1 from public.tool_calls c where c.message_id = reply_id and c.status = 'pending') then
    raise exception 'record_reply_step_v1: step % has calls that have not run', step_no - 1 using errcode = '22023';
  end if;
  insert into internal.reply_steps (message_id, step, text, model, prompt_version, input_tokens, output_tokens,
                                    cache_read_tokens, cache_write_tokens)
  values (reply_id, step_no, left(coalesce(p_step ->> 'text', ''), 32000),
          left(coalesce(usage ->> 'model', '-'), 100), left(coalesce(usage ->> 'prompt_version', '-'), 100),
          greatest(coalesce((usage ->> 'input_tokens')::integer, 0), 0),
          greatest(coalesce((usage ->> 'output_tokens')::integer, 0), 0),
          greatest(coalesce((usage ->> 'cache_read_tokens')::integer, 0), 0),
          greatest(coalesce((usage ->> 'cache_write_tokens')::integer, 0), 0));
  insert into public.tool_calls (message_id, conversation_id, user_id, step, position, tool_use_id, name, input)
  select reply_id, reply.conversation_id, reply.user_id, step_no, c.ord, c.v ->> 'tool_use_id', c.v ->> 'name',
         case when jsonb_typeof(c.v -> 'input') = 'object' then c.v -> 'input' else '{}' end
    from jsonb_array_elements(p_step -> 'calls') with ordinality as c(v, ord);
  perform internal.record_model_calls(job, reply_id, jsonb_build_array(usage));
  -- The text is the checkpoints' to write, with the deltas it holds (checkpoint_chat_replies_v1); the
  -- row only says the reply is under way. A step's "content" (sent by workers of the release before) is
  -- ignored.
  update public.messages
     set status = 'streaming', error = null
   where id = reply_id and status <> 'complete' and (status <> 'streaming' or error is not null);
  for call in select * from public.tool_calls c where c.message_id = reply_id and c.step = step_no order by c.position loop
    perform realtime.send(
      jsonb_build_object('message_id', reply_id, 'tool_call_id', call.id, 'tool_use_id', call.tool_use_id,
                         'step', call.step, 'name', call.name, 'input', call.input),
      'tool_call', 'conversation:' || reply.conversation_id, true);
  end loop;
  return internal.stored_reply_steps(reply_id) -> (step_no - 1) -> 'calls';
end;
$$;
comment on function public.record_reply_step_v1(bigint, text, jsonb) is
  'Workers (chat_reply): store a model step and its tool calls (pending) before any runs; broadcast tool_call '
  'events; mark the reply as streaming (its text is the checkpoints'' to write). Idempotent per step. '
  'Refused without the lease. service_role only.';
