-- =====================================================================================================
-- messages: the turns of a conversation. Users insert their own `user` messages straight from the app;
-- assistant messages (a reply's pending placeholder, its streamed text, the final content and usage)
-- are written only by the service role. Nobody but the service role changes a message afterwards.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- types
-- -----------------------------------------------------------------------------------------------------
create type public.message_role as enum ('user', 'assistant');
comment on type public.message_role is
  'Who wrote a message. user: the person being coached (inserted by the app); '
  'assistant: the coach (written by workers only).';

create type public.message_status as enum ('pending', 'streaming', 'complete', 'failed');
comment on type public.message_status is
  'Lifecycle of a message. pending: reply queued, the coach is typing; streaming: partial text, '
  'checkpointed while the reply streams; complete: final content stored (user messages are always '
  'complete); failed: the reply could not be produced, see error.';

-- -----------------------------------------------------------------------------------------------------
-- table
-- -----------------------------------------------------------------------------------------------------
create table public.messages (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null,
  user_id uuid not null default auth.uid(),
  role public.message_role not null default 'user',
  content text not null default '',
  status public.message_status not null default 'complete',
  reply_to uuid,
  model text,
  prompt_version text,
  input_tokens integer,
  output_tokens integer,
  cache_read_tokens integer,
  cache_write_tokens integer,
  error text,
  -- clock_timestamp(): a reply placeholder inserted in the same transaction sorts after its message.
  created_at timestamptz not null default clock_timestamp(),
  completed_at timestamptz,
  constraint messages_id_conversation_id_key unique (id, conversation_id),
  constraint messages_reply_to_key unique (reply_to),
  -- The message belongs to the conversation's owner, whoever inserts it.
  constraint messages_conversation_fkey foreign key (conversation_id, user_id)
    references public.conversations (id, user_id) on delete cascade,
  -- A reply answers a message of the same conversation.
  constraint messages_reply_to_fkey foreign key (reply_to, conversation_id)
    references public.messages (id, conversation_id) on delete cascade,
  constraint messages_content_1_to_8000_characters
    check (role <> 'user' or (char_length(content) between 1 and 8000 and btrim(content) <> '')),
  constraint messages_content_at_most_32000_characters check (char_length(content) <= 32000),
  constraint messages_user_messages_are_complete_and_reply_to_nothing
    check (role <> 'user' or (status = 'complete' and reply_to is null)),
  constraint messages_model_at_most_100_characters check (char_length(model) <= 100),
  constraint messages_prompt_version_at_most_100_characters check (char_length(prompt_version) <= 100),
  constraint messages_error_at_most_2000_characters check (char_length(error) <= 2000),
  constraint messages_tokens_not_negative check (
    input_tokens >= 0 and output_tokens >= 0 and cache_read_tokens >= 0 and cache_write_tokens >= 0
  )
);

comment on table public.messages is
  'Turns of a conversation. Users insert role=user messages (1 to 8,000 characters) into their own '
  'conversations; assistant messages and every later change are written by workers (service_role) only.';
comment on column public.messages.id is 'Message id.';
comment on column public.messages.conversation_id is 'The conversation.';
comment on column public.messages.user_id is 'The conversation''s owner, also on assistant messages (defaults to the caller).';
comment on column public.messages.role is 'user or assistant; see the type message_role.';
comment on column public.messages.content is
  'The text. User messages: 1 to 8,000 characters. Assistant messages: empty while pending, the partial text '
  'while streaming, the final text when complete.';
comment on column public.messages.status is 'pending, streaming, complete or failed; see the type message_status.';
comment on column public.messages.reply_to is 'For an assistant reply: the user message it answers (at most one reply per message).';
comment on column public.messages.model is 'Model that wrote an assistant message, e.g. claude-sonnet-4-5, or offline.';
comment on column public.messages.prompt_version is 'Prompt template version used, <name>@v<version>, e.g. chat_reply@v1.';
comment on column public.messages.input_tokens is 'Uncached input tokens billed for the reply.';
comment on column public.messages.output_tokens is 'Output tokens billed for the reply.';
comment on column public.messages.cache_read_tokens is 'Input tokens read from the prompt cache.';
comment on column public.messages.cache_write_tokens is 'Input tokens written to the prompt cache.';
comment on column public.messages.error is 'Why a reply failed, worded to be shown to the user.';
comment on column public.messages.created_at is 'When the message was written (or the reply was queued).';
comment on column public.messages.completed_at is 'When the message became complete or failed.';

-- -----------------------------------------------------------------------------------------------------
-- indexes
-- -----------------------------------------------------------------------------------------------------
create index messages_conversation_id_created_at_idx on public.messages (conversation_id, created_at);
create index messages_user_id_created_at_idx on public.messages (user_id, created_at);

-- -----------------------------------------------------------------------------------------------------
-- rls
-- -----------------------------------------------------------------------------------------------------
alter table public.messages enable row level security;

create policy "Users read the messages of their own conversations"
  on public.messages for select to authenticated
  using (user_id = (select auth.uid()));

create policy "Users write their own user messages into their own conversations"
  on public.messages for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and role = 'user'
    and conversation_id in (select c.id from public.conversations c where c.user_id = (select auth.uid()))
  );

-- -----------------------------------------------------------------------------------------------------
-- grants: users insert only the user-owned columns and never update or delete a message (deleting the
-- conversation deletes its messages).
-- -----------------------------------------------------------------------------------------------------
revoke all on table public.messages from public, anon, authenticated, service_role;
grant select on table public.messages to authenticated;
grant insert (id, conversation_id, user_id, role, content) on table public.messages to authenticated;
grant select, insert, update, delete on table public.messages to service_role;

-- The conversation summary covers messages of the same conversation.
alter table public.conversations
  add constraint conversations_summary_through_message_fkey
  foreign key (summary_through_message_id, id) references public.messages (id, conversation_id)
  on delete set null (summary_through_message_id);
-- Deleting messages (a conversation's cascade) looks up conversations pointing at them.
create index conversations_summary_through_message_id_idx on public.conversations (summary_through_message_id);

-- -----------------------------------------------------------------------------------------------------
-- triggers
-- -----------------------------------------------------------------------------------------------------

-- A reply answers a user message; finished messages get completed_at.
create function internal.prepare_message() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if new.reply_to is not null and (tg_op = 'INSERT' or new.reply_to is distinct from old.reply_to) then
    if not exists (select 1 from public.messages m where m.id = new.reply_to and m.role = 'user') then
      raise exception 'reply_to: % is not a user message of this conversation', new.reply_to
        using errcode = 'foreign_key_violation', column = 'reply_to', table = 'messages';
    end if;
  end if;
  if new.status in ('complete', 'failed') and new.completed_at is null then
    new.completed_at := clock_timestamp();
  elsif new.status in ('pending', 'streaming') then
    new.completed_at := null;
  end if;
  return new;
end;
$$;
comment on function internal.prepare_message() is
  'Trigger: reply_to names a user message; completed_at is set when a message completes or fails.';

create trigger messages_prepare
  before insert or update on public.messages
  for each row execute function internal.prepare_message();

-- Keep conversations.last_message_at current. Security definer: users may not write that column.
create function internal.touch_conversation() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  update public.conversations
     set last_message_at = greatest(coalesce(last_message_at, new.created_at), new.created_at)
   where id = new.conversation_id;
  return null;
end;
$$;
comment on function internal.touch_conversation() is
  'Trigger: set conversations.last_message_at when a message is inserted.';

create trigger messages_touch_conversation
  after insert on public.messages
  for each row execute function internal.touch_conversation();

revoke execute on function internal.prepare_message(), internal.touch_conversation()
  from public, anon, authenticated;
