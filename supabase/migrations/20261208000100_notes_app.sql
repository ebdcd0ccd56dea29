-- =====================================================================================================
-- The notes app (Consilium): notes in BlockNote's block format, tasks, reflections. Goals are the
-- planner's (20261206000120_planner). Every table is owner-only (RLS) and in the Realtime publication.
--
-- Notes and reflections are knowledge sources (20261208000000_knowledge): saving one queues its
-- embedding, deleting one removes its chunks. A note's change also queues the extraction of its tasks
-- (20261208000200_kind_task_extraction); a task extracted from a note names its note and block
-- (source_note_id, source_block_id), and a task the user deleted is remembered so it is never
-- extracted again.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- types
-- -----------------------------------------------------------------------------------------------------
create type public.task_status as enum ('todo', 'in_progress', 'done', 'cancelled');
comment on type public.task_status is
  'todo: not started; in_progress: started; done: finished; cancelled: will not be done.';
create type public.task_source as enum ('manual', 'note', 'ai', 'chat');
comment on type public.task_source is
  'Where a task came from: manual (the user), note (extracted from a note block), ai (a job), chat (the coach in a '
  'conversation).';
create type public.reflection_type as enum ('daily', 'weekly', 'monthly', 'gratitude', 'freeform');
comment on type public.reflection_type is
  'daily, weekly or monthly review; gratitude: things the user is grateful for; freeform: anything else.';

-- -----------------------------------------------------------------------------------------------------
-- BlockNote content: a note is a JSON array of blocks {id, type, props, content, children}; content is
-- an array of inline nodes ({type: "text", text} or {type: "link", content: [...]}) or, for tables,
-- {type: "tableContent", rows: [{cells: [...]}]}.
-- -----------------------------------------------------------------------------------------------------
create function internal.blocknote_inline_text(p_content jsonb) returns text
  language sql
  immutable
  set search_path = ''
as $$
  select coalesce(string_agg(
           case
             when n.value ->> 'type' = 'link' then internal.blocknote_inline_text(n.value -> 'content')
             when jsonb_typeof(n.value) = 'string' then n.value #>> '{}'
             else coalesce(n.value ->> 'text', '')
           end, '' order by n.ordinality), '')
    from jsonb_array_elements(case when jsonb_typeof(p_content) = 'array' then p_content else '[]' end)
         with ordinality as n(value, ordinality)
$$;
comment on function internal.blocknote_inline_text(jsonb) is 'The text of BlockNote inline content (text and links).';

-- Every block of a note, depth first, with its text: [{id, type, text, checked, depth}].
create function internal.blocknote_blocks(p_blocks jsonb, p_depth integer default 0) returns jsonb
  language sql
  immutable
  set search_path = ''
as $$
  select coalesce(jsonb_agg(x.item order by x.ordinality, x.sub), '[]')
    from (
      select b.ordinality, 0 as sub, jsonb_build_object(
               'id', coalesce(b.value ->> 'id', ''),
               'type', coalesce(b.value ->> 'type', 'paragraph'),
               'text', case when b.value -> 'content' ->> 'type' = 'tableContent' then
                              (select string_agg(internal.blocknote_inline_text(cell.value), ' | ')
                                 from jsonb_array_elements(b.value -> 'content' -> 'rows') r,
                                      jsonb_array_elements(r.value -> 'cells') cell)
                            else internal.blocknote_inline_text(b.value -> 'content') end,
               'checked', (b.value -> 'props' ->> 'checked')::boolean,
               'depth', p_depth) as item
        from jsonb_array_elements(case when jsonb_typeof(p_blocks) = 'array' then p_blocks else '[]' end)
             with ordinality as b(value, ordinality)
      union all
      select b.ordinality, c.ordinality, c.value
        from jsonb_array_elements(case when jsonb_typeof(p_blocks) = 'array' then p_blocks else '[]' end)
             with ordinality as b(value, ordinality),
             jsonb_array_elements(internal.blocknote_blocks(b.value -> 'children', p_depth + 1))
             with ordinality as c(value, ordinality)
       where p_depth < 20
    ) x
$$;
comment on function internal.blocknote_blocks(jsonb, integer) is
  'The blocks of BlockNote content, depth first, as [{id, type, text, checked, depth}].';

-- BlockNote blocks from plain text, one block per line: "# " heading, "- [ ] " / "- [x] " check list
-- item, "- " or "* " bullet, "1. " numbered, anything else a paragraph; blank lines are dropped.
create function tools.blocknote_from_text(p_text text) returns jsonb
  language sql
  volatile
  set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', gen_random_uuid()::text,
           'type', l.kind,
           'props', case l.kind when 'heading' then jsonb_build_object('level', l.level)
                                when 'checkListItem' then jsonb_build_object('checked', l.checked)
                                else '{}'::jsonb end,
           'content', jsonb_build_array(jsonb_build_object('type', 'text', 'text', l.body, 'styles', '{}'::jsonb)),
           'children', '[]'::jsonb) order by l.n), '[]')
    from (
      select t.n,
             case when t.line ~ '^#{1,3} ' then 'heading'
                  when t.line ~* '^[-*] \[( |x)\] ' then 'checkListItem'
                  when t.line ~ '^[-*] ' then 'bulletListItem'
                  when t.line ~ '^\d+[.)] ' then 'numberedListItem'
                  else 'paragraph' end as kind,
             length(substring(t.line from '^(#{1,3}) ')) as level,
             t.line ~* '^[-*] \[x\] ' as checked,
             regexp_replace(t.line, '^(#{1,3} |[-*] \[( |x|X)\] |[-*] |\d+[.)] )', '') as body
        from regexp_split_to_table(coalesce(p_text, ''), E'\r?\n') with ordinality as t(line, n)
       where btrim(t.line) <> ''
    ) l
$$;
comment on function tools.blocknote_from_text(text) is
  'BlockNote blocks from plain text, a block per line (# heading, - [ ] check item, - bullet, 1. numbered).';

-- -----------------------------------------------------------------------------------------------------
-- table: notes
-- -----------------------------------------------------------------------------------------------------
create table public.notes (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null default '',
  content jsonb not null default '[]',
  parent_id uuid,
  archived boolean not null default false,
  pinned boolean not null default false,
  metadata jsonb not null default '{}',
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint notes_id_user_id_key unique (id, user_id),
  constraint notes_parent_fkey foreign key (parent_id, user_id)
    references public.notes (id, user_id) on delete set null (parent_id),
  constraint notes_not_its_own_parent check (parent_id <> id),
  constraint notes_title_at_most_500_characters check (char_length(title) <= 500),
  constraint notes_content_is_a_block_array check (jsonb_typeof(content) = 'array'),
  constraint notes_content_at_most_1_mb check (octet_length(content::text) <= 1048576),
  constraint notes_metadata_is_an_object check (jsonb_typeof(metadata) = 'object')
);
comment on table public.notes is
  'A user''s notes (the notes app): title and BlockNote block content, nested pages (parent_id), archived, '
  'pinned. Owner-only. Searchable by their owner and the coach (knowledge_chunks); tasks are extracted from them.';
comment on column public.notes.id is 'Note id.';
comment on column public.notes.user_id is 'The owner (defaults to the caller).';
comment on column public.notes.title is 'The title, at most 500 characters.';
comment on column public.notes.content is
  'The body as BlockNote blocks: a JSON array of {id, type, props, content, children} (editor.document).';
comment on column public.notes.parent_id is 'The note this one is nested under (one of the owner''s own).';
comment on column public.notes.archived is 'Archived notes are kept but hidden and not searched.';
comment on column public.notes.pinned is 'Pinned notes are shown first.';
comment on column public.notes.metadata is 'Anything the app keeps with the note (icon, cover, tags, ...): a JSON object.';
comment on column public.notes.version is 'Goes up by one whenever title or content changes (task extraction runs once per version).';
comment on column public.notes.created_at is 'When the note was created.';
comment on column public.notes.updated_at is 'When the note last changed.';

create index notes_user_id_updated_at_idx on public.notes (user_id, updated_at desc);
create index notes_parent_id_idx on public.notes (parent_id, user_id);

alter table public.notes enable row level security;
create policy "Owners read their notes" on public.notes for select to authenticated
  using (user_id = (select auth.uid()));
create policy "Owners add notes" on public.notes for insert to authenticated
  with check (user_id = (select auth.uid()));
create policy "Owners change their notes" on public.notes for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy "Owners delete their notes" on public.notes for delete to authenticated
  using (user_id = (select auth.uid()));

revoke all on table public.notes from public, anon, authenticated, service_role;
grant select, delete on table public.notes to authenticated;
grant insert (id, user_id, title, content, parent_id, archived, pinned, metadata) on table public.notes to authenticated;
grant update (title, content, parent_id, archived, pinned, metadata) on table public.notes to authenticated;
grant select, insert, update, delete on table public.notes to service_role;

create function internal.stamp_note() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  new.updated_at := now();
  if tg_op = 'UPDATE' then
    new.version := old.version + case when new.content is distinct from old.content
                                        or new.title is distinct from old.title then 1 else 0 end;
  else
    new.version := 1;
  end if;
  return new;
end;
$$;
comment on function internal.stamp_note() is 'Trigger: updated_at on every change; version + 1 when title or content changes.';
create trigger notes_stamp before insert or update on public.notes
  for each row execute function internal.stamp_note();

-- -----------------------------------------------------------------------------------------------------
-- table: tasks
-- -----------------------------------------------------------------------------------------------------
create table public.tasks (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null,
  description text not null default '',
  status public.task_status not null default 'todo',
  priority public.plan_priority not null default 'medium',
  due_date date,
  due_time time,
  parent_id uuid,
  source public.task_source not null default 'manual',
  source_note_id uuid,
  source_block_id text,
  metadata jsonb not null default '{}',
  completed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint tasks_id_user_id_key unique (id, user_id),
  constraint tasks_parent_fkey foreign key (parent_id, user_id)
    references public.tasks (id, user_id) on delete cascade,
  constraint tasks_source_note_fkey foreign key (source_note_id, user_id)
    references public.notes (id, user_id) on delete set null (source_note_id),
  constraint tasks_not_its_own_parent check (parent_id <> id),
  constraint tasks_title_1_to_500_characters check (char_length(btrim(title)) between 1 and 500),
  constraint tasks_description_at_most_10000_characters check (char_length(description) <= 10000),
  constraint tasks_due_time_needs_a_due_date check (due_time is null or due_date is not null),
  constraint tasks_source_block_id_at_most_100_characters check (char_length(source_block_id) <= 100),
  constraint tasks_metadata_is_an_object check (jsonb_typeof(metadata) = 'object')
);
comment on table public.tasks is
  'A user''s tasks: title, description, status, priority, due date and time, subtasks (parent_id), where it came '
  'from (source; source_note_id + source_block_id for a task extracted from a note block). Owner-only.';
comment on column public.tasks.id is 'Task id.';
comment on column public.tasks.user_id is 'The owner (defaults to the caller).';
comment on column public.tasks.title is 'What to do, 1 to 500 characters.';
comment on column public.tasks.description is 'Details, at most 10,000 characters.';
comment on column public.tasks.status is 'todo, in_progress, done or cancelled; see the type task_status.';
comment on column public.tasks.priority is 'low, medium, high or urgent.';
comment on column public.tasks.due_date is 'The day it is due, if any.';
comment on column public.tasks.due_time is 'The time of day it is due (needs due_date), in the owner''s time zone.';
comment on column public.tasks.parent_id is 'The task this one is a subtask of (one of the owner''s own).';
comment on column public.tasks.source is 'manual, note, ai or chat; see the type task_source.';
comment on column public.tasks.source_note_id is 'The source reference''s note: the note it was extracted from (null once deleted).';
comment on column public.tasks.source_block_id is 'The source reference''s block: the BlockNote block id it came from.';
comment on column public.tasks.metadata is
  'Anything the app keeps with the task: a JSON object (a task the coach created holds its message_id and conversation_id).';
comment on column public.tasks.completed_at is 'When it became done (maintained by a trigger).';
comment on column public.tasks.created_at is 'When the task was created.';
comment on column public.tasks.updated_at is 'When the task last changed.';

create index tasks_user_id_status_idx on public.tasks (user_id, status, due_date);
create index tasks_parent_id_idx on public.tasks (parent_id, user_id);
-- One task per note block: what makes extraction idempotent (an edited note never duplicates a task).
create unique index tasks_source_note_block_key on public.tasks (source_note_id, source_block_id)
  where source_note_id is not null and source_block_id is not null;
create index tasks_source_note_id_idx on public.tasks (source_note_id, user_id);

alter table public.tasks enable row level security;
create policy "Owners read their tasks" on public.tasks for select to authenticated
  using (user_id = (select auth.uid()));
create policy "Owners add tasks" on public.tasks for insert to authenticated
  with check (user_id = (select auth.uid()));
create policy "Owners change their tasks" on public.tasks for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy "Owners delete their tasks" on public.tasks for delete to authenticated
  using (user_id = (select auth.uid()));

revoke all on table public.tasks from public, anon, authenticated, service_role;
grant select, delete on table public.tasks to authenticated;
grant insert (id, user_id, title, description, status, priority, due_date, due_time, parent_id, source, source_note_id,
              source_block_id, metadata) on table public.tasks to authenticated;
grant update (title, description, status, priority, due_date, due_time, parent_id, metadata)
  on table public.tasks to authenticated;
grant select, insert, update, delete on table public.tasks to service_role;

create function internal.stamp_task() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  new.updated_at := now();
  if new.status = 'done' and (tg_op = 'INSERT' or old.status <> 'done') then
    new.completed_at := now();
  elsif new.status <> 'done' then
    new.completed_at := null;
  end if;
  return new;
end;
$$;
comment on function internal.stamp_task() is 'Trigger: tasks.completed_at follows status, updated_at on every change.';
create trigger tasks_stamp before insert or update on public.tasks
  for each row execute function internal.stamp_task();

-- -----------------------------------------------------------------------------------------------------
-- table: dismissed_note_tasks (a note task the user deleted is never extracted again)
-- -----------------------------------------------------------------------------------------------------
create table internal.dismissed_note_tasks (
  note_id uuid not null references public.notes (id) on delete cascade,
  block_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  title text not null,
  dismissed_at timestamptz not null default now(),
  primary key (note_id, block_id)
);
comment on table internal.dismissed_note_tasks is
  'Note blocks whose extracted task the user deleted: extraction never creates a task for them again.';
comment on column internal.dismissed_note_tasks.note_id is 'The note.';
comment on column internal.dismissed_note_tasks.block_id is 'The BlockNote block id.';
comment on column internal.dismissed_note_tasks.user_id is 'The note''s owner.';
comment on column internal.dismissed_note_tasks.title is 'The title of the task that was deleted.';
comment on column internal.dismissed_note_tasks.dismissed_at is 'When it was deleted.';
create index dismissed_note_tasks_user_id_idx on internal.dismissed_note_tasks (user_id);

alter table internal.dismissed_note_tasks enable row level security;
revoke all on table internal.dismissed_note_tasks from public, anon, authenticated, service_role;
grant select on table internal.dismissed_note_tasks to service_role;

create function internal.remember_dismissed_note_task() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  if old.source_note_id is not null and old.source_block_id is not null
     and exists (select 1 from public.notes n where n.id = old.source_note_id)
     and exists (select 1 from auth.users u where u.id = old.user_id) then
    insert into internal.dismissed_note_tasks (note_id, block_id, user_id, title)
    values (old.source_note_id, old.source_block_id, old.user_id, old.title)
    on conflict (note_id, block_id) do nothing;
  end if;
  return null;
end;
$$;
comment on function internal.remember_dismissed_note_task() is
  'Trigger: a deleted task that came from a note block is remembered, so extraction never brings it back.';
create trigger tasks_remember_dismissed after delete on public.tasks
  for each row execute function internal.remember_dismissed_note_task();

-- -----------------------------------------------------------------------------------------------------
-- table: reflections
-- -----------------------------------------------------------------------------------------------------
create table public.reflections (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  type public.reflection_type not null default 'daily',
  title text not null default '',
  content text not null,
  mood smallint,
  entry_date date not null default current_date,
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint reflections_title_at_most_300_characters check (char_length(title) <= 300),
  constraint reflections_content_1_to_20000_characters check (char_length(btrim(content)) between 1 and 20000),
  constraint reflections_mood_between_1_and_10 check (mood between 1 and 10),
  constraint reflections_metadata_is_an_object check (jsonb_typeof(metadata) = 'object')
);
comment on table public.reflections is
  'A user''s reflections (journal): daily, weekly, monthly, gratitude or freeform entries. Owner-only; searchable '
  'by their owner and the coach.';
comment on column public.reflections.id is 'Reflection id.';
comment on column public.reflections.user_id is 'The owner (defaults to the caller).';
comment on column public.reflections.type is 'daily, weekly, monthly, gratitude or freeform; see the type reflection_type.';
comment on column public.reflections.title is 'An optional title, at most 300 characters.';
comment on column public.reflections.content is 'What the user wrote, 1 to 20,000 characters.';
comment on column public.reflections.mood is 'How they felt, 1 to 10, if they said.';
comment on column public.reflections.entry_date is 'The day (or first day of the week or month) it is about.';
comment on column public.reflections.metadata is 'Anything the app keeps with it (prompts answered, tags): a JSON object.';
comment on column public.reflections.created_at is 'When it was written.';
comment on column public.reflections.updated_at is 'When it last changed.';

create index reflections_user_id_entry_date_idx on public.reflections (user_id, entry_date desc);

alter table public.reflections enable row level security;
create policy "Owners read their reflections" on public.reflections for select to authenticated
  using (user_id = (select auth.uid()));
create policy "Owners add reflections" on public.reflections for insert to authenticated
  with check (user_id = (select auth.uid()));
create policy "Owners change their reflections" on public.reflections for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy "Owners delete their reflections" on public.reflections for delete to authenticated
  using (user_id = (select auth.uid()));

revoke all on table public.reflections from public, anon, authenticated, service_role;
grant select, delete on table public.reflections to authenticated;
grant insert (id, user_id, type, title, content, mood, entry_date, metadata) on table public.reflections to authenticated;
grant update (type, title, content, mood, entry_date, metadata) on table public.reflections to authenticated;
grant select, insert, update, delete on table public.reflections to service_role;

create function internal.stamp_reflection() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
comment on function internal.stamp_reflection() is 'Trigger: updated_at on every change.';
create trigger reflections_stamp before update on public.reflections
  for each row execute function internal.stamp_reflection();

-- -----------------------------------------------------------------------------------------------------
-- knowledge sources: notes (not archived) and reflections, readable by their owner
-- -----------------------------------------------------------------------------------------------------
create function internal.notes_document(p_id uuid) returns jsonb
  language sql
  stable
  set search_path = ''
as $$
  select jsonb_build_object(
           'owner_id', n.user_id, 'child_id', null,
           'title', coalesce(nullif(btrim(n.title), ''), 'Untitled note'),
           'blocks', (select coalesce(jsonb_agg(jsonb_build_object('id', b.value ->> 'id', 'text', b.value ->> 'text')), '[]')
                        from jsonb_array_elements(internal.blocknote_blocks(n.content)) b
                       where btrim(b.value ->> 'text') <> ''),
           'metadata', jsonb_build_object('note_id', n.id))
    from public.notes n
   where n.id = p_id and not n.archived
$$;
comment on function internal.notes_document(uuid) is 'Knowledge source notes: a note''s blocks with text (archived notes are not searched).';

create function internal.reflections_document(p_id uuid) returns jsonb
  language sql
  stable
  set search_path = ''
as $$
  select jsonb_build_object(
           'owner_id', r.user_id, 'child_id', null,
           'title', coalesce(nullif(btrim(r.title), ''), initcap(r.type::text) || ' reflection, ' || r.entry_date),
           'text', r.content,
           'metadata', jsonb_build_object('type', r.type, 'entry_date', r.entry_date))
    from public.reflections r
   where r.id = p_id
$$;
comment on function internal.reflections_document(uuid) is 'Knowledge source reflections: a reflection''s text.';

insert into internal.knowledge_sources (name, description, table_name, document_function) values
  ('notes', 'The notes app''s notes (owner only; archived notes are left out).', 'public.notes',
   'internal.notes_document(uuid)'),
  ('reflections', 'The notes app''s reflections (owner only).', 'public.reflections',
   'internal.reflections_document(uuid)');

create trigger notes_knowledge_on_write after insert or update of title, content, archived on public.notes
  for each row execute function internal.queue_knowledge_embedding('notes', 'id', 'user_id');
create trigger notes_knowledge_on_delete after delete on public.notes
  for each row execute function internal.queue_knowledge_embedding('notes', 'id', 'user_id');
create trigger reflections_knowledge_on_write after insert or update of type, title, content, entry_date on public.reflections
  for each row execute function internal.queue_knowledge_embedding('reflections', 'id', 'user_id');
create trigger reflections_knowledge_on_delete after delete on public.reflections
  for each row execute function internal.queue_knowledge_embedding('reflections', 'id', 'user_id');

revoke execute on function internal.blocknote_inline_text(jsonb), internal.blocknote_blocks(jsonb, integer),
  internal.stamp_note(), internal.stamp_task(), internal.stamp_reflection(), internal.remember_dismissed_note_task(),
  internal.notes_document(uuid), internal.reflections_document(uuid), tools.blocknote_from_text(text)
  from public, anon, authenticated;
grant execute on function internal.blocknote_inline_text(jsonb), internal.blocknote_blocks(jsonb, integer),
  internal.notes_document(uuid), internal.reflections_document(uuid), tools.blocknote_from_text(text)
  to service_role;
grant execute on function tools.blocknote_from_text(text) to authenticated;

alter publication supabase_realtime add table public.notes, public.tasks, public.reflections;
