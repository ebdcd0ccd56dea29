-- =====================================================================================================
-- A tool step sends its turn's last text (run_reply_step_v1 gains an optional `delta`).
-- The turn's text not yet broadcast went out as its own Broadcast request while the step ran: one more
-- request beside the step's on every tool round, and it could reach the app after the step's tool_call
-- events. Now the worker hands that text to the step ({seq, text, attempt}, as the delta it would have
-- sent), and the step broadcasts it from its transaction before the calls: the app gets the turn's words,
-- then what the coach did, in order, and only if the turn committed. Sent once, when the step is stored
-- (a repeated request finds it stored and sends nothing). A worker of the release before sends no `delta`
-- and broadcasts the text itself, as before (docs/schema.md: an optional input field).
-- =====================================================================================================

create or replace function public.run_reply_step_v1(p_job_id bigint, p_worker text, p_step jsonb) returns jsonb
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
    -- The turn's text not yet broadcast goes out before its calls, from this transaction: an app sees the
    -- turn's words, then what the coach does, and the worker sends no Broadcast request of its own for it.
    if jsonb_typeof(p_step -> 'delta') = 'object' and coalesce(p_step -> 'delta' ->> 'text', '') <> '' then
      perform realtime.send(
        jsonb_build_object('message_id', reply_id, 'seq', (p_step -> 'delta' ->> 'seq')::integer,
                           'text', p_step -> 'delta' ->> 'text',
                           'attempt', coalesce((p_step -> 'delta' ->> 'attempt')::integer, job.attempts)),
        'delta', 'conversation:' || reply.conversation_id, true);
    end if;
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
  'Workers (chat_reply): store a model step {step, text, calls, usage, delta?} with its tool calls unless it is '
  'stored, then run its calls that have no result (each effect with its result), all in one transaction; broadcast '
  'the turn''s unsent text (delta {seq, text, attempt}) when storing it, then tool_call and tool_result events. Returns the step''s calls with their results. Refused without the lease. '
  'service_role only.';

