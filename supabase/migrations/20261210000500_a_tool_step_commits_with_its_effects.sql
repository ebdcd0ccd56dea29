-- =====================================================================================================
-- A tool step is stored and its calls run in one transaction (run_reply_step_v1).
-- Until now a model turn that called tools took two requests, each committed: record_reply_step_v1 stored
-- the turn with its calls (pending), then run_tool_calls_v1 ran them. Between the two, a "calls stored,
-- not run" state existed only for a worker that died in that gap; a worker taking over ran the pending
-- calls instead of asking the model for the turn again. Committing the turn, its calls, their effects and
-- their results together keeps every guarantee without that state:
--   * the step and its calls are stored (in statement order) before any runs, and a call's effect and its
--     result commit in the same transaction, unique per (reply, tool_use_id), as before;
--   * a worker that dies before the commit leaves nothing of the turn: the worker that takes over asks
--     the model for the turn again, and only the calls of the turn that commits ever take effect;
--   * a worker that dies after it finds the turn stored with every result, and continues from it.
-- A tool's own failure is still an is_error result (internal.run_tool_call rolls back only its block), so
-- a turn is lost only when the transaction itself fails, which the worker then retries whole.
-- Each tool round is one request instead of two (at 50 conversations a request is ~12 ms of hops on two
-- shared cores). A step already stored (by a worker of the release before, or a request whose response
-- was lost) is not stored again: its calls without a result run, so the same function continues it.
-- record_reply_step_v1 and run_tool_calls_v1 stay for the release's older workers; they are dropped one
-- release later (docs/schema.md).
-- =====================================================================================================

create function public.run_reply_step_v1(p_job_id bigint, p_worker text, p_step jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.leased_job(p_job_id, p_worker, 'chat_reply');
  reply_id uuid := (job.payload ->> 'assistant_message_id')::uuid;
  reply public.messages;
  coach uuid;
  step_no integer := (p_step ->> 'step')::integer;
  usage jsonb := coalesce(p_step -> 'usage', '{}');
  context jsonb;
  call public.tool_calls;
begin
  if step_no is null or step_no < 1 then
    raise exception 'run_reply_step_v1: step must be a positive integer' using errcode = '22023';
  end if;
  select * into reply from public.messages where id = reply_id for update;
  if not found then
    raise exception 'the reply of job % no longer exists', p_job_id using errcode = 'PT404';
  end if;
  select c.coach_id into coach from public.conversations c where c.id = reply.conversation_id;
  if not exists (select 1 from internal.reply_steps s where s.message_id = reply_id and s.step = step_no) then
    if jsonb_typeof(p_step -> 'calls') is distinct from 'array'
       or jsonb_array_length(p_step -> 'calls') not between 1 and 64 then
      raise exception 'run_reply_step_v1: calls must be an array of 1 to 64 tool calls' using errcode = '22023';
    end if;
    -- No tool acts for a message that is not cleared for coaching (internal.message_safety, 20261206000150).
    if not exists (select 1 from internal.message_safety s where s.message_id = reply.reply_to and s.cleared) then
      raise exception 'reply %: its message is not cleared for a coaching reply', reply_id
        using errcode = 'check_violation', constraint = 'messages_coaching_reply_needs_a_cleared_message';
    end if;
    if exists (select 1 from public.tool_calls c where c.message_id = reply_id and c.status = 'pending') then
      raise exception 'run_reply_step_v1: step % has calls that have not run', step_no - 1 using errcode = '22023';
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
    -- The text is the checkpoints' to write, with the deltas it holds (20261210000400).
    update public.messages
       set status = 'streaming', error = null
     where id = reply_id and status <> 'complete' and (status <> 'streaming' or error is not null);
    for call in select * from public.tool_calls c where c.message_id = reply_id and c.step = step_no order by c.position loop
      perform realtime.send(
        jsonb_build_object('message_id', reply_id, 'tool_call_id', call.id, 'tool_use_id', call.tool_use_id,
                           'step', call.step, 'name', call.name, 'input', call.input),
        'tool_call', 'conversation:' || reply.conversation_id, true);
    end loop;
  end if;
  context := jsonb_build_object(
    'job_id', job.id, 'user_id', reply.user_id, 'conversation_id', reply.conversation_id,
    'message_id', reply_id, 'coach_id', coach
  );
  for call in
    select * from public.tool_calls c where c.message_id = reply_id and c.step = step_no and c.status = 'pending'
     order by c.position for update
  loop
    call := internal.run_tool_call(call, coach, context);
    perform realtime.send(
      jsonb_build_object('message_id', reply_id, 'tool_call_id', call.id, 'tool_use_id', call.tool_use_id,
                         'name', call.name, 'is_error', call.is_error, 'result', call.result),
      'tool_result', 'conversation:' || reply.conversation_id, true);
  end loop;
  return (select coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'tool_use_id', c.tool_use_id, 'name', c.name,
                                                      'input', c.input, 'status', c.status, 'result', c.result,
                                                      'is_error', c.is_error) order by c.position), '[]')
            from public.tool_calls c where c.message_id = reply_id and c.step = step_no);
end;
$$;
comment on function public.run_reply_step_v1(bigint, text, jsonb) is
  'Workers (chat_reply): store a model step {step, text, calls, usage} with its tool calls unless it is stored, '
  'then run its calls that have no result (each effect with its result), all in one transaction; broadcast '
  'tool_call and tool_result events. Returns the step''s calls with their results. Refused without the lease. '
  'service_role only.';

revoke execute on function public.run_reply_step_v1(bigint, text, jsonb) from public, anon, authenticated;
grant execute on function public.run_reply_step_v1(bigint, text, jsonb) to service_role;
