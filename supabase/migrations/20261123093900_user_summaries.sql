-- =====================================================================================================
-- user_summaries: the AI's memory of a user — a compact summary and key facts, each fact linked to the
-- message it came from. The owner reads it; only the service role writes it.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- validation
-- -----------------------------------------------------------------------------------------------------

-- Why key_facts is malformed, or null. key_facts is a JSON array of
--   {"id": "<uuid>", "fact": "Has a daughter, Lena, born 2025", "source_message_id": "<uuid or null>",
--    "created_at": "<timestamp>"}
create function internal.key_facts_problem(facts jsonb) returns text
  language plpgsql
  immutable
  set search_path = ''
as $$
declare
  fact jsonb;
  uuid_pattern constant text := '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
begin
  if jsonb_typeof(facts) is distinct from 'array' then
    return 'key_facts must be a JSON array of facts';
  end if;
  if jsonb_array_length(facts) > 200 then
    return 'key_facts holds at most 200 facts';
  end if;
  for fact in select e.f from jsonb_array_elements(facts) as e(f) loop
    if jsonb_typeof(fact) <> 'object' or not internal.is_short_text(fact -> 'fact', 500) then
      return 'key_facts: each fact must be an object with "fact": text of 1 to 500 characters';
    end if;
    if coalesce(fact ->> 'id', '') !~ uuid_pattern then
      return 'key_facts: each fact needs an "id" (a uuid), so it can be forgotten';
    end if;
    if jsonb_typeof(fact -> 'source_message_id') = 'string'
       and (fact ->> 'source_message_id') !~ uuid_pattern then
      return 'key_facts: source_message_id must be the uuid of a message or null';
    end if;
  end loop;
  return null;
end;
$$;
comment on function internal.key_facts_problem(jsonb) is 'Validator: why user_summaries.key_facts is malformed, or null.';

-- -----------------------------------------------------------------------------------------------------
-- table
-- -----------------------------------------------------------------------------------------------------
create table public.user_summaries (
  user_id uuid primary key references auth.users (id) on delete cascade,
  summary text not null default '',
  key_facts jsonb not null default '[]'::jsonb,
  model text,
  prompt_version text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint user_summaries_summary_at_most_8000_characters check (char_length(summary) <= 8000)
);

comment on table public.user_summaries is
  'The AI''s memory of a user: a compact summary and key facts with their source messages. The owner '
  'reads it; only workers (service_role) write it.';
comment on column public.user_summaries.user_id is 'The user this memory is about.';
comment on column public.user_summaries.summary is 'Compact summary of what the coach knows about the user.';
comment on column public.user_summaries.key_facts is
  'JSON array of facts {id, fact, source_message_id, created_at}; source_message_id links the message it came from.';
comment on column public.user_summaries.model is 'The model that last wrote the summary.';
comment on column public.user_summaries.prompt_version is 'Prompt template version of the last update, <name>@v<version>.';
comment on column public.user_summaries.created_at is 'When the first summary was written.';
comment on column public.user_summaries.updated_at is 'When the summary was last updated.';

-- -----------------------------------------------------------------------------------------------------
-- indexes (policies filter by user_id, the primary key)
-- -----------------------------------------------------------------------------------------------------

-- -----------------------------------------------------------------------------------------------------
-- rls
-- -----------------------------------------------------------------------------------------------------
alter table public.user_summaries enable row level security;

create policy "Users read what the coach remembers about them"
  on public.user_summaries for select to authenticated
  using (user_id = (select auth.uid()));

-- -----------------------------------------------------------------------------------------------------
-- grants
-- -----------------------------------------------------------------------------------------------------
revoke all on table public.user_summaries from public, anon, authenticated, service_role;
grant select on table public.user_summaries to authenticated;
grant select, insert, update, delete on table public.user_summaries to service_role;

-- -----------------------------------------------------------------------------------------------------
-- triggers
-- -----------------------------------------------------------------------------------------------------
-- Security definer: it calls internal validators, which no API role may execute.
create function internal.validate_user_summary() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  problem text := internal.key_facts_problem(new.key_facts);
begin
  if problem is not null then
    raise exception '%', problem using errcode = 'check_violation', column = 'key_facts', table = 'user_summaries';
  end if;
  return new;
end;
$$;
comment on function internal.validate_user_summary() is 'Trigger: user_summaries.key_facts is well formed.';

create trigger user_summaries_validate
  before insert or update of key_facts on public.user_summaries
  for each row execute function internal.validate_user_summary();

create trigger user_summaries_set_updated_at
  before update on public.user_summaries
  for each row execute function internal.set_updated_at();

revoke execute on function internal.key_facts_problem(jsonb), internal.validate_user_summary()
  from public, anon, authenticated;
