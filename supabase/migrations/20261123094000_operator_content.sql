-- =====================================================================================================
-- Operator content (schema `internal`, not exposed through the API): versioned prompt templates, which
-- prompt each coach and job kind uses, category guidelines and settings. Operators edit these in
-- Supabase Studio; workers read them through the service_role-only functions at the end. anon and
-- authenticated can neither read them nor call those functions.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- types
-- -----------------------------------------------------------------------------------------------------
create type internal.prompt_kind as enum (
  'coach_persona', 'chat_reply', 'checkin_analysis', 'recommendations', 'user_summary',
  'conversation_summary', 'followup'
);
comment on type internal.prompt_kind is
  'What a prompt is for. coach_persona: who a coach is (inserted into other prompts as {{coach_persona}}); '
  'chat_reply: the system prompt of a coach''s reply; checkin_analysis: summary and insights of a completed '
  'check-in; recommendations: 1-5 next steps after an analysis; user_summary: the AI''s memory of a user; '
  'conversation_summary: compacting older turns of a long conversation; followup: a proactive message after '
  'a check-in.';

-- -----------------------------------------------------------------------------------------------------
-- table: prompts (one row per prompt family; its versions below)
-- -----------------------------------------------------------------------------------------------------
create table internal.prompts (
  name text primary key,
  kind internal.prompt_kind not null,
  description text not null default '',
  created_at timestamptz not null default now(),
  constraint prompts_name_kind_key unique (name, kind),
  constraint prompts_name_format check (name ~ '^[a-z][a-z0-9_.-]{0,79}$')
);
comment on table internal.prompts is
  'Prompt families, e.g. chat_reply or persona.maya. Each has numbered versions in internal.prompt_versions; '
  'internal.prompt_assignments says which family a coach and job kind use.';
comment on column internal.prompts.name is 'Stable name, lowercase (e.g. chat_reply, persona.maya).';
comment on column internal.prompts.kind is 'What the prompt is for; see the type internal.prompt_kind.';
comment on column internal.prompts.description is 'Notes for operators: purpose, placeholders it uses.';
comment on column internal.prompts.created_at is 'When the family was created.';

alter table internal.prompts enable row level security;
revoke all on table internal.prompts from public, anon, authenticated, service_role;
grant select on table internal.prompts to service_role;

-- -----------------------------------------------------------------------------------------------------
-- table: prompt_versions
-- -----------------------------------------------------------------------------------------------------
create table internal.prompt_versions (
  prompt_name text not null references internal.prompts (name) on delete cascade,
  version integer not null,
  template text not null,
  model text,
  max_tokens integer not null default 1024,
  temperature numeric(3, 2) not null default 0.70,
  is_active boolean not null default false,
  change_note text not null default '',
  created_at timestamptz not null default now(),
  primary key (prompt_name, version),
  constraint prompt_versions_version_positive check (version >= 1),
  constraint prompt_versions_template_1_to_50000_characters check (char_length(btrim(template)) between 1 and 50000),
  constraint prompt_versions_max_tokens_between_1_and_64000 check (max_tokens between 1 and 64000),
  constraint prompt_versions_temperature_between_0_and_1 check (temperature between 0 and 1)
);
comment on table internal.prompt_versions is
  'Versions of each prompt. A version is never edited once written (each reply records the version it used): '
  'insert a new version, then activate it with internal.activate_prompt_version(name, version). '
  'Placeholders in {{double_braces}} are filled by the workers.';
comment on column internal.prompt_versions.prompt_name is 'The prompt family.';
comment on column internal.prompt_versions.version is 'Version number, 1, 2, 3, ...; stamped on outputs as <name>@v<version>.';
comment on column internal.prompt_versions.template is 'The prompt text with {{placeholders}}.';
comment on column internal.prompt_versions.model is 'Model override; null uses the setting model.<job kind>, then model.default.';
comment on column internal.prompt_versions.max_tokens is 'Maximum output tokens.';
comment on column internal.prompt_versions.temperature is 'Sampling temperature, 0 to 1.';
comment on column internal.prompt_versions.is_active is 'The version in use; at most one per prompt.';
comment on column internal.prompt_versions.change_note is 'What changed and why, for the next operator.';
comment on column internal.prompt_versions.created_at is 'When the version was written.';

create unique index prompt_versions_one_active_per_prompt on internal.prompt_versions (prompt_name) where is_active;

alter table internal.prompt_versions enable row level security;
revoke all on table internal.prompt_versions from public, anon, authenticated, service_role;
grant select on table internal.prompt_versions to service_role;

-- A version's content is frozen: outputs stamped with it must stay reproducible.
create function internal.freeze_prompt_version() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if (new.prompt_name, new.version, new.template, new.model, new.max_tokens, new.temperature)
     is distinct from (old.prompt_name, old.version, old.template, old.model, old.max_tokens, old.temperature) then
    raise exception 'template: prompt version %@v% is frozen; insert version % instead and activate it',
      old.prompt_name, old.version,
      (select max(v.version) + 1 from internal.prompt_versions v where v.prompt_name = old.prompt_name)
      using errcode = 'check_violation', column = 'template', table = 'prompt_versions';
  end if;
  return new;
end;
$$;
comment on function internal.freeze_prompt_version() is 'Trigger: only is_active and change_note of a prompt version may change.';

create trigger prompt_versions_freeze
  before update on internal.prompt_versions
  for each row execute function internal.freeze_prompt_version();

-- Operators: switch a prompt to another version in one step.
create function internal.activate_prompt_version(p_prompt_name text, p_version integer) returns void
  language plpgsql
  set search_path = ''
as $$
begin
  if not exists (select 1 from internal.prompt_versions where prompt_name = p_prompt_name and version = p_version) then
    raise exception 'prompt version %@v% does not exist', p_prompt_name, p_version using errcode = 'no_data_found';
  end if;
  update internal.prompt_versions set is_active = false where prompt_name = p_prompt_name and is_active;
  update internal.prompt_versions set is_active = true where prompt_name = p_prompt_name and version = p_version;
end;
$$;
comment on function internal.activate_prompt_version(text, integer) is
  'Operators: make this version the active one of its prompt (deactivating the previous one).';

-- -----------------------------------------------------------------------------------------------------
-- table: prompt_assignments (which prompt a job kind uses, per coach or by default)
-- -----------------------------------------------------------------------------------------------------
create table internal.prompt_assignments (
  id uuid primary key default gen_random_uuid(),
  kind internal.prompt_kind not null,
  coach_id uuid references public.coaches (id) on delete cascade,
  prompt_name text not null,
  created_at timestamptz not null default now(),
  constraint prompt_assignments_prompt_fkey foreign key (prompt_name, kind)
    references internal.prompts (name, kind) on update cascade,
  constraint prompt_assignments_kind_coach_key unique nulls not distinct (kind, coach_id)
);
comment on table internal.prompt_assignments is
  'Which prompt a job kind uses: a row with coach_id applies to that coach, a row without is the default. '
  'Every coach needs a coach_persona row; chat_reply and the worker kinds usually have one default row.';
comment on column internal.prompt_assignments.kind is 'The job kind (the prompt must be of this kind).';
comment on column internal.prompt_assignments.coach_id is 'The coach this applies to; null for the default.';
comment on column internal.prompt_assignments.prompt_name is 'The prompt family; its active version is used.';
comment on column internal.prompt_assignments.created_at is 'When the assignment was made.';

create index prompt_assignments_coach_id_idx on internal.prompt_assignments (coach_id);
create index prompt_assignments_prompt_name_idx on internal.prompt_assignments (prompt_name, kind);

alter table internal.prompt_assignments enable row level security;
revoke all on table internal.prompt_assignments from public, anon, authenticated, service_role;
grant select on table internal.prompt_assignments to service_role;

-- -----------------------------------------------------------------------------------------------------
-- table: category_guidelines
-- -----------------------------------------------------------------------------------------------------
create table internal.category_guidelines (
  category_id uuid primary key references public.categories (id) on delete cascade,
  guidelines text not null,
  avoid text not null default '',
  escalation text not null default '',
  updated_at timestamptz not null default now(),
  constraint category_guidelines_guidelines_1_to_8000_characters check (char_length(btrim(guidelines)) between 1 and 8000),
  constraint category_guidelines_avoid_at_most_4000_characters check (char_length(avoid) <= 4000),
  constraint category_guidelines_escalation_at_most_4000_characters check (char_length(escalation) <= 4000)
);
comment on table internal.category_guidelines is
  'How coaches work in each category, inserted into prompts as {{guidelines}}; a subcategory''s prompt also '
  'gets its parent''s guidelines.';
comment on column internal.category_guidelines.category_id is 'The category.';
comment on column internal.category_guidelines.guidelines is 'What good coaching looks like here: approach, questions, evidence-based practices.';
comment on column internal.category_guidelines.avoid is 'What the coach must not do here (diagnose, prescribe, shame, ...).';
comment on column internal.category_guidelines.escalation is 'When and how to point the user to professional or urgent help.';
comment on column internal.category_guidelines.updated_at is 'When the guidelines last changed.';

alter table internal.category_guidelines enable row level security;
revoke all on table internal.category_guidelines from public, anon, authenticated, service_role;
grant select on table internal.category_guidelines to service_role;

create trigger category_guidelines_set_updated_at
  before update on internal.category_guidelines
  for each row execute function internal.set_updated_at();

-- -----------------------------------------------------------------------------------------------------
-- table: settings
-- -----------------------------------------------------------------------------------------------------
create table internal.settings (
  key text primary key,
  value jsonb not null,
  description text not null,
  updated_at timestamptz not null default now(),
  constraint settings_key_format check (key ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$')
);
comment on table internal.settings is
  'Operator settings read by the workers, e.g. model.chat_reply = "claude-sonnet-4-5". Values are JSON.';
comment on column internal.settings.key is 'Dotted key, e.g. model.default, summary.every_n_user_messages.';
comment on column internal.settings.value is 'JSON value: a string, number, boolean or object.';
comment on column internal.settings.description is 'What the setting does and its unit.';
comment on column internal.settings.updated_at is 'When the setting last changed.';

alter table internal.settings enable row level security;
revoke all on table internal.settings from public, anon, authenticated, service_role;
grant select on table internal.settings to service_role;

create trigger settings_set_updated_at
  before update on internal.settings
  for each row execute function internal.set_updated_at();

-- -----------------------------------------------------------------------------------------------------
-- views for Studio
-- -----------------------------------------------------------------------------------------------------
create view internal.active_prompts
  with (security_invoker = true)
  as
select a.kind,
       coalesce(c.slug, '(default)') as coach,
       a.prompt_name,
       v.version,
       v.prompt_name || '@v' || v.version as prompt_version,
       coalesce(v.model, s.value #>> '{}', d.value #>> '{}') as model,
       v.max_tokens,
       v.temperature,
       v.change_note,
       v.created_at as version_created_at,
       v.template
  from internal.prompt_assignments a
  left join public.coaches c on c.id = a.coach_id
  left join internal.prompt_versions v on v.prompt_name = a.prompt_name and v.is_active
  left join internal.settings s on s.key = 'model.' || a.kind::text
  left join internal.settings d on d.key = 'model.default'
 order by a.kind, c.sort_order nulls first;
comment on view internal.active_prompts is
  'What each job kind and coach uses right now: prompt, active version, effective model. A null version '
  'means the assigned prompt has no active version.';

create view internal.category_catalogue
  with (security_invoker = true)
  as
select coalesce(p.name || ' > ', '') || c.name as category,
       c.slug,
       c.is_active,
       c.checkin_enabled,
       jsonb_array_length(c.checkin_questions) as checkin_questions,
       c.followup_after,
       g.guidelines is not null as has_guidelines,
       g.guidelines,
       g.avoid,
       g.escalation
  from public.categories c
  left join public.categories p on p.id = c.parent_id
  left join internal.category_guidelines g on g.category_id = c.id
 order by coalesce(p.sort_order, c.sort_order), p.sort_order nulls first, c.sort_order;
comment on view internal.category_catalogue is
  'Categories as a tree with their check-in forms and guidelines, for reviewing the catalogue in Studio.';

revoke all on internal.active_prompts, internal.category_catalogue from public, anon, authenticated, service_role;
grant select on internal.active_prompts, internal.category_catalogue to service_role;

-- -----------------------------------------------------------------------------------------------------
-- worker functions (versioned names; service_role only; security invoker)
-- -----------------------------------------------------------------------------------------------------

-- The active prompt of a job kind for a coach: the coach's own assignment, else the default one.
create function public.resolve_prompt_v1(p_kind text, p_coach_id uuid default null)
  returns table (
    prompt_name text, version integer, prompt_version text, template text, model text,
    max_tokens integer, temperature numeric
  )
  language sql
  stable
  set search_path = ''
as $$
  select v.prompt_name,
         v.version,
         v.prompt_name || '@v' || v.version,
         v.template,
         coalesce(v.model, s.value #>> '{}', d.value #>> '{}'),
         v.max_tokens,
         v.temperature
    from internal.prompt_assignments a
    join internal.prompt_versions v on v.prompt_name = a.prompt_name and v.is_active
    left join internal.settings s on s.key = 'model.' || p_kind
    left join internal.settings d on d.key = 'model.default'
   where a.kind::text = p_kind
     and (a.coach_id = p_coach_id or a.coach_id is null)
   order by a.coach_id is null
   limit 1
$$;
comment on function public.resolve_prompt_v1(text, uuid) is
  'Workers: the active prompt version and effective model for a job kind (and coach). service_role only.';

-- The guidelines for a category: its parent's first, then its own.
create function public.category_guidelines_v1(p_category_id uuid)
  returns table (category_id uuid, slug text, name text, guidelines text, avoid text, escalation text)
  language sql
  stable
  set search_path = ''
as $$
  select c.id, c.slug, c.name, g.guidelines, g.avoid, g.escalation
    from public.categories c
    join internal.category_guidelines g on g.category_id = c.id
   where c.id = p_category_id
      or c.id = (select parent_id from public.categories where id = p_category_id)
   order by c.parent_id nulls first
$$;
comment on function public.category_guidelines_v1(uuid) is
  'Workers: guidelines of a category and its parent, parent first. service_role only.';

-- All settings as one JSON object.
create function public.settings_v1() returns jsonb
  language sql
  stable
  set search_path = ''
as $$
  select coalesce(jsonb_object_agg(key, value), '{}'::jsonb) from internal.settings
$$;
comment on function public.settings_v1() is 'Workers: every operator setting as {key: value}. service_role only.';

revoke execute on function internal.freeze_prompt_version(), internal.activate_prompt_version(text, integer)
  from public, anon, authenticated, service_role;
revoke execute on function public.resolve_prompt_v1(text, uuid), public.category_guidelines_v1(uuid),
  public.settings_v1() from public, anon, authenticated;
grant execute on function public.resolve_prompt_v1(text, uuid), public.category_guidelines_v1(uuid),
  public.settings_v1() to service_role;
