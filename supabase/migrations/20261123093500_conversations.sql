-- =====================================================================================================
-- conversations: a user's chat threads with a coach, optionally about one category. The owner creates,
-- renames, archives and deletes them; the AI-owned summary is written by workers (service_role).
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- table
-- -----------------------------------------------------------------------------------------------------
create table public.conversations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  coach_id uuid not null references public.coaches (id) on delete restrict,
  category_id uuid references public.categories (id) on delete set null,
  title text,
  archived_at timestamptz,
  last_message_at timestamptz,
  summary text,
  summary_through_message_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Target of messages' (conversation_id, user_id) foreign key: a message always belongs to the
  -- conversation's owner.
  constraint conversations_id_user_id_key unique (id, user_id),
  constraint conversations_title_at_most_200_characters check (char_length(title) <= 200),
  constraint conversations_summary_at_most_20000_characters check (char_length(summary) <= 20000)
);

comment on table public.conversations is
  'A user''s chat threads with a coach. The owner creates, renames, archives and deletes them; summary '
  'and summary_through_message_id are written by workers only.';
comment on column public.conversations.id is 'Conversation id; also the Broadcast topic conversation:<id> of streamed replies.';
comment on column public.conversations.user_id is 'The owner (defaults to the caller).';
comment on column public.conversations.coach_id is 'The coach who answers; must be active when the conversation starts.';
comment on column public.conversations.category_id is 'Optional focus area; its guidelines shape the coach''s replies.';
comment on column public.conversations.title is 'Optional title, set by the user (at most 200 characters).';
comment on column public.conversations.archived_at is 'When the user archived the conversation; null while active.';
comment on column public.conversations.last_message_at is 'Time of the latest message (maintained by a trigger), for sorting.';
comment on column public.conversations.summary is
  'AI-owned: summary of the turns up to summary_through_message_id, so prompts stay bounded. Read-only for users.';
comment on column public.conversations.summary_through_message_id is
  'AI-owned: the last message the summary covers; later messages are sent to the model verbatim.';
comment on column public.conversations.created_at is 'When the conversation started.';
comment on column public.conversations.updated_at is 'When the conversation row last changed.';

-- -----------------------------------------------------------------------------------------------------
-- indexes
-- -----------------------------------------------------------------------------------------------------
create index conversations_user_id_last_message_at_idx
  on public.conversations (user_id, last_message_at desc nulls last);
create index conversations_coach_id_idx on public.conversations (coach_id);
create index conversations_category_id_idx on public.conversations (category_id);

-- -----------------------------------------------------------------------------------------------------
-- rls
-- -----------------------------------------------------------------------------------------------------
alter table public.conversations enable row level security;

create policy "Users read their own conversations"
  on public.conversations for select to authenticated
  using (user_id = (select auth.uid()));

create policy "Users start conversations with an active coach"
  on public.conversations for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and coach_id in (select c.id from public.coaches c where c.is_active)
  );

create policy "Users rename and archive their own conversations"
  on public.conversations for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

create policy "Users delete their own conversations"
  on public.conversations for delete to authenticated
  using (user_id = (select auth.uid()));

-- -----------------------------------------------------------------------------------------------------
-- grants: the summary columns and last_message_at are not writable by users.
-- -----------------------------------------------------------------------------------------------------
revoke all on table public.conversations from public, anon, authenticated, service_role;
grant select, delete on table public.conversations to authenticated;
grant insert (id, user_id, coach_id, category_id, title) on table public.conversations to authenticated;
grant update (category_id, title, archived_at) on table public.conversations to authenticated;
grant select, insert, update, delete on table public.conversations to service_role;

-- -----------------------------------------------------------------------------------------------------
-- triggers
-- -----------------------------------------------------------------------------------------------------
create trigger conversations_set_updated_at
  before update on public.conversations
  for each row execute function internal.set_updated_at();
