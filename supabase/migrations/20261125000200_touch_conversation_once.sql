-- A user message and its pending reply are inserted in one transaction with the same created_at, and
-- each touched the conversation: two updates of the same row per message, the second changing nothing
-- but writing a new row version (and WAL that the Realtime feed decodes). Update only when the time
-- moves forward.
create or replace function internal.touch_conversation() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  update public.conversations
     set last_message_at = new.created_at
   where id = new.conversation_id
     and (last_message_at is null or last_message_at < new.created_at);
  return null;
end;
$$;
comment on function internal.touch_conversation() is
  'Trigger: set conversations.last_message_at when a newer message is inserted.';
