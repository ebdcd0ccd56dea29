-- =====================================================================================================
-- Chat replies: a user's message asks for exactly one coach reply.
--
-- The insert of a user message, in the same transaction: inserts the assistant placeholder
-- (status 'pending', reply_to = the message; unique, so a second reply cannot exist) and enqueues a
-- `chat_reply` job ordered by conversation. Workers stream the reply over Broadcast on the private
-- topic conversation:<id>, checkpoint the partial text into the row and complete it together with
-- the job, all through service_role-only functions that refuse a worker that lost its lease.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- triggers: enqueue the reply
-- -----------------------------------------------------------------------------------------------------
create function internal.enqueue_chat_reply() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  reply_id uuid := gen_random_uuid();
begin
  insert into public.messages (id, conversation_id, user_id, role, content, status, reply_to)
  values (reply_id, new.conversation_id, new.user_id, 'assistant', '', 'pending', new.id);

  perform internal.enqueue_job(
    'chat_reply',
    jsonb_build_object(
      'message_id', new.id,
      'assistant_message_id', reply_id,
      'conversation_id', new.conversation_id,
      'user_id', new.user_id
    ),
    'chat_reply:' || new.id::text,
    'conversation:' || new.conversation_id::text
  );
  return null;
end;
$$;
comment on function internal.enqueue_chat_reply() is
  'Trigger: a user message gets its pending assistant reply and a chat_reply job in the same transaction. '
  'Security definer: users may neither write assistant messages nor jobs.';

create trigger messages_enqueue_chat_reply
  after insert on public.messages
  for each row
  when (new.role = 'user')
  execute function internal.enqueue_chat_reply();

-- -----------------------------------------------------------------------------------------------------
-- triggers: a chat reply that gave up tells the user so
-- -----------------------------------------------------------------------------------------------------
create function internal.fail_dead_chat_reply() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  update public.messages
     set status = 'failed',
         error = 'Sorry, your coach could not reply just now. Please send your message again in a moment.'
   where id = (new.payload ->> 'assistant_message_id')::uuid
     and status in ('pending', 'streaming');
  return null;
end;
$$;
comment on function internal.fail_dead_chat_reply() is
  'Trigger: when a chat_reply job is dead, its assistant message becomes failed with a message fit for users '
  '(the technical reason stays in internal.jobs.last_error).';

create trigger jobs_fail_dead_chat_reply
  after update of status on internal.jobs
  for each row
  when (new.status = 'dead' and old.status <> 'dead' and new.kind = 'chat_reply')
  execute function internal.fail_dead_chat_reply();

revoke execute on function internal.enqueue_chat_reply(), internal.fail_dead_chat_reply()
  from public, anon, authenticated;

-- -----------------------------------------------------------------------------------------------------
-- worker functions (versioned; service_role only)
-- -----------------------------------------------------------------------------------------------------

-- The reply row of a chat_reply job the caller holds, locked.
create function internal.leased_reply(p_job_id bigint, p_worker text, p_message_id uuid)
  returns public.messages
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.assert_lease(p_job_id, p_worker);
  reply public.messages;
begin
  if job.kind <> 'chat_reply' or (job.payload ->> 'assistant_message_id')::uuid is distinct from p_message_id then
    raise exception 'job % does not write message %', p_job_id, p_message_id using errcode = '22023';
  end if;
  select * into reply from public.messages where id = p_message_id and role = 'assistant' for update;
  if not found then
    raise exception 'message % does not exist', p_message_id using errcode = 'PT404';
  end if;
  return reply;
end;
$$;

-- Save the partial text while streaming, so a reconnecting client catches up from the row.
create function public.checkpoint_chat_reply_v1(p_job_id bigint, p_worker text, p_message_id uuid, p_content text)
  returns void
  language plpgsql
  set search_path = ''
as $$
begin
  perform internal.leased_reply(p_job_id, p_worker, p_message_id);
  update public.messages
     set content = left(p_content, 32000), status = 'streaming', error = null
   where id = p_message_id and status <> 'complete';
end;
$$;
comment on function public.checkpoint_chat_reply_v1 is
  'Workers: store the partial reply (status streaming). Refused without the lease. service_role only.';

-- Store the final reply and finish its job in one transaction: exactly one complete reply per message.
create function public.complete_chat_reply_v1(
  p_job_id bigint,
  p_worker text,
  p_message_id uuid,
  p_content text,
  p_model text,
  p_prompt_version text,
  p_input_tokens integer,
  p_output_tokens integer,
  p_cache_read_tokens integer default 0,
  p_cache_write_tokens integer default 0
) returns public.messages
  language plpgsql
  set search_path = ''
as $$
declare
  reply public.messages := internal.leased_reply(p_job_id, p_worker, p_message_id);
begin
  if reply.status <> 'complete' then
    update public.messages
       set content = left(p_content, 32000),
           status = 'complete',
           model = p_model,
           prompt_version = p_prompt_version,
           input_tokens = p_input_tokens,
           output_tokens = p_output_tokens,
           cache_read_tokens = p_cache_read_tokens,
           cache_write_tokens = p_cache_write_tokens,
           error = null
     where id = p_message_id
    returning * into reply;
  end if;
  perform internal.record_usage(
    (select j from internal.jobs j where j.id = p_job_id), reply.user_id, reply.id, p_model, p_prompt_version,
    p_input_tokens, p_output_tokens, p_cache_read_tokens, p_cache_write_tokens
  );
  perform public.complete_job_v1(p_job_id, p_worker, jsonb_build_object('message_id', p_message_id));
  return reply;
end;
$$;
comment on function public.complete_chat_reply_v1 is
  'Workers: write the final reply with model, prompt version and usage, and finish the job, atomically. '
  'Refused without the lease. service_role only.';

revoke execute on function internal.leased_reply(bigint, text, uuid) from public, anon, authenticated;
revoke execute on function public.checkpoint_chat_reply_v1, public.complete_chat_reply_v1
  from public, anon, authenticated;
grant execute on function internal.leased_reply(bigint, text, uuid) to service_role;
grant execute on function public.checkpoint_chat_reply_v1, public.complete_chat_reply_v1 to service_role;

-- -----------------------------------------------------------------------------------------------------
-- rls on realtime.messages: only a conversation's owner may join its private topic conversation:<id>,
-- where replies stream. Nobody but the service role broadcasts there.
-- -----------------------------------------------------------------------------------------------------
create policy "Users receive the replies streamed in their own conversations"
  on realtime.messages for select to authenticated
  using (
    realtime.messages.extension = 'broadcast'
    and split_part((select realtime.topic()), ':', 1) = 'conversation'
    and exists (
      select 1
        from public.conversations c
       where c.id::text = split_part((select realtime.topic()), ':', 2)
         and c.user_id = (select auth.uid())
    )
  );
