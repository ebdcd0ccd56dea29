-- =====================================================================================================
-- coaches: the virtual coach personas a user talks to. Operators manage them in Studio; each coach's
-- persona prompt is an operator-only prompt template (internal.prompt_assignments).
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- table
-- -----------------------------------------------------------------------------------------------------
create table public.coaches (
  id uuid primary key default gen_random_uuid(),
  slug text not null,
  name text not null,
  description text not null default '',
  intro text not null,
  avatar_path text,
  sort_order integer not null default 0,
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint coaches_slug_key unique (slug),
  constraint coaches_slug_format check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and char_length(slug) <= 60),
  constraint coaches_name_1_to_80_characters check (char_length(btrim(name)) between 1 and 80),
  constraint coaches_description_at_most_2000_characters check (char_length(description) <= 2000),
  constraint coaches_intro_1_to_2000_characters check (char_length(btrim(intro)) between 1 and 2000),
  constraint coaches_avatar_path_at_most_1024_characters check (char_length(avatar_path) <= 1024)
);

comment on table public.coaches is
  'Virtual coach personas. Signed-in users read the active ones; operators edit them in Studio. '
  'The persona prompt lives in internal.prompt_assignments (job kind coach_persona).';
comment on column public.coaches.id is 'Coach id.';
comment on column public.coaches.slug is 'Stable identifier for code and URLs, e.g. maya (lowercase, dashes).';
comment on column public.coaches.name is 'Display name shown to users.';
comment on column public.coaches.description is 'Who this coach is and how they help, shown when choosing a coach.';
comment on column public.coaches.intro is 'The first message this coach sends in a new conversation.';
comment on column public.coaches.avatar_path is 'Path of the avatar image in Storage (bucket/path).';
comment on column public.coaches.sort_order is 'Position in coach pickers, ascending.';
comment on column public.coaches.is_active is 'Only active coaches are shown to users and can start conversations.';
comment on column public.coaches.created_at is 'When the coach was created.';
comment on column public.coaches.updated_at is 'When the coach was last changed.';

-- -----------------------------------------------------------------------------------------------------
-- indexes
-- -----------------------------------------------------------------------------------------------------
create index coaches_is_active_sort_order_idx on public.coaches (is_active, sort_order);

-- -----------------------------------------------------------------------------------------------------
-- rls
-- -----------------------------------------------------------------------------------------------------
alter table public.coaches enable row level security;

create policy "Signed-in users read active coaches"
  on public.coaches for select to authenticated
  using (is_active);

-- -----------------------------------------------------------------------------------------------------
-- grants (operators write as postgres in Studio; workers as service_role)
-- -----------------------------------------------------------------------------------------------------
revoke all on table public.coaches from public, anon, authenticated, service_role;
grant select on table public.coaches to authenticated;
grant select, insert, update, delete on table public.coaches to service_role;

-- -----------------------------------------------------------------------------------------------------
-- triggers
-- -----------------------------------------------------------------------------------------------------
create trigger coaches_set_updated_at
  before update on public.coaches
  for each row execute function internal.set_updated_at();
