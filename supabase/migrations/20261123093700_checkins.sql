-- =====================================================================================================
-- checkins: a user's check-in on a category: an overall level, answers to the category's check-in form
-- and a note. The owner writes those while the check-in is a draft; once completed it is frozen, and a
-- worker writes the AI-owned analysis (summary, insights).
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- types
-- -----------------------------------------------------------------------------------------------------
create type public.checkin_status as enum ('draft', 'completed');
comment on type public.checkin_status is
  'draft: being filled in, the owner may still change it; completed: submitted, frozen, and analysed by a worker.';

-- -----------------------------------------------------------------------------------------------------
-- answer validation
-- -----------------------------------------------------------------------------------------------------

-- Why answers do not fit the check-in form, or null. answers is a JSON object keyed by question id;
-- when completed, every required question must be answered.
create function internal.checkin_answers_problem(questions jsonb, answers jsonb, completed boolean)
  returns text
  language plpgsql
  immutable
  set search_path = ''
as $$
declare
  question jsonb;
  answer record;
  qtype text;
  expected text;
begin
  if jsonb_typeof(answers) is distinct from 'object' then
    return 'answers must be a JSON object keyed by question id';
  end if;
  for answer in select key, value from jsonb_each(answers) loop
    select e.q into question from jsonb_array_elements(questions) as e(q) where e.q ->> 'id' = answer.key;
    if question is null then
      select string_agg(e.q ->> 'id', ', ') into expected from jsonb_array_elements(questions) as e(q);
      return format('answers: "%s" is not a question of this category (questions: %s)',
                    answer.key, coalesce(expected, 'none'));
    end if;
    continue when jsonb_typeof(answer.value) = 'null';
    qtype := question ->> 'type';
    if qtype in ('scale', 'number') then
      if jsonb_typeof(answer.value) <> 'number'
         or (qtype = 'scale' and (answer.value #>> '{}')::numeric % 1 <> 0)
         or (answer.value #>> '{}')::numeric not between (question ->> 'min')::numeric and (question ->> 'max')::numeric then
        return format('answers: "%s" must be a %s between %s and %s', answer.key,
                      case qtype when 'scale' then 'whole number' else 'number' end,
                      question ->> 'min', question ->> 'max');
      end if;
    elsif qtype = 'choice' then
      if jsonb_typeof(answer.value) <> 'string' or not (question -> 'options') @> jsonb_build_array(answer.value) then
        return format('answers: "%s" must be one of %s', answer.key, question -> 'options');
      end if;
    elsif qtype = 'multi_choice' then
      if jsonb_typeof(answer.value) <> 'array'
         or not (question -> 'options') @> answer.value
         or exists (select 1 from jsonb_array_elements(answer.value) as e(v) where jsonb_typeof(e.v) <> 'string')
         or jsonb_array_length(answer.value)
            <> (select count(distinct e.v) from jsonb_array_elements(answer.value) as e(v)) then
        return format('answers: "%s" must be a list of distinct options from %s', answer.key, question -> 'options');
      end if;
    elsif qtype = 'text' then
      if jsonb_typeof(answer.value) <> 'string'
         or char_length(answer.value #>> '{}') > coalesce((question ->> 'max_length')::integer, 1000) then
        return format('answers: "%s" must be text of at most %s characters', answer.key,
                      coalesce(question ->> 'max_length', '1000'));
      end if;
    elsif qtype = 'boolean' then
      if jsonb_typeof(answer.value) <> 'boolean' then
        return format('answers: "%s" must be true or false', answer.key);
      end if;
    end if;
  end loop;
  if completed then
    select string_agg(e.q ->> 'id', ', ') into expected
      from jsonb_array_elements(questions) as e(q)
     where coalesce((e.q ->> 'required')::boolean, false)
       and coalesce(jsonb_typeof(answers -> (e.q ->> 'id')), 'null') = 'null';
    if expected is not null then
      return format('answers: required questions are unanswered: %s', expected);
    end if;
  end if;
  return null;
end;
$$;
comment on function internal.checkin_answers_problem(jsonb, jsonb, boolean) is
  'Validator: why check-in answers do not fit the category''s questions, or null.';

-- -----------------------------------------------------------------------------------------------------
-- table
-- -----------------------------------------------------------------------------------------------------
create table public.checkins (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  category_id uuid not null references public.categories (id) on delete restrict,
  level smallint,
  answers jsonb not null default '{}'::jsonb,
  note text,
  status public.checkin_status not null default 'draft',
  completed_at timestamptz,
  summary text,
  insights jsonb,
  analyzed_at timestamptz,
  analysis_model text,
  analysis_prompt_version text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Target of recommendations' (checkin_id, user_id) foreign key.
  constraint checkins_id_user_id_key unique (id, user_id),
  constraint checkins_level_between_1_and_10 check (level between 1 and 10),
  constraint checkins_level_required_when_completed check (status <> 'completed' or level is not null),
  constraint checkins_note_at_most_4000_characters check (char_length(note) <= 4000),
  constraint checkins_summary_at_most_4000_characters check (char_length(summary) <= 4000),
  constraint checkins_insights_is_object check (jsonb_typeof(insights) = 'object')
);

comment on table public.checkins is
  'A user''s check-in on a category. The owner writes level, answers, note and status while it is a '
  'draft; once completed it is frozen and a worker writes summary, insights and analyzed_at.';
comment on column public.checkins.id is 'Check-in id.';
comment on column public.checkins.user_id is 'The owner (defaults to the caller).';
comment on column public.checkins.category_id is 'The category checked in on; must be active with check-ins enabled.';
comment on column public.checkins.level is 'Overall level from 1 (very low) to 10 (excellent); required to complete.';
comment on column public.checkins.answers is
  'Answers to the category''s checkin_questions: a JSON object keyed by question id, validated against the form.';
comment on column public.checkins.note is 'Free-text note by the user (at most 4,000 characters).';
comment on column public.checkins.status is 'draft or completed; see the type checkin_status.';
comment on column public.checkins.completed_at is 'When the user completed the check-in (set automatically).';
comment on column public.checkins.summary is 'AI-owned: a short summary of the check-in. Read-only for users.';
comment on column public.checkins.insights is
  'AI-owned: structured insights, e.g. {"trend": "improving", "themes": [...], "focus": "..."}. Read-only for users.';
comment on column public.checkins.analyzed_at is 'AI-owned: when the analysis was written.';
comment on column public.checkins.analysis_model is 'AI-owned: the model that wrote the analysis.';
comment on column public.checkins.analysis_prompt_version is 'AI-owned: prompt template version of the analysis, <name>@v<version>.';
comment on column public.checkins.created_at is 'When the check-in was started.';
comment on column public.checkins.updated_at is 'When the check-in last changed.';

-- -----------------------------------------------------------------------------------------------------
-- indexes
-- -----------------------------------------------------------------------------------------------------
create index checkins_user_id_category_id_created_at_idx on public.checkins (user_id, category_id, created_at desc);
create index checkins_category_id_idx on public.checkins (category_id);

-- -----------------------------------------------------------------------------------------------------
-- rls
-- -----------------------------------------------------------------------------------------------------
alter table public.checkins enable row level security;

create policy "Users read their own check-ins"
  on public.checkins for select to authenticated
  using (user_id = (select auth.uid()));

create policy "Users start their own check-ins"
  on public.checkins for insert to authenticated
  with check (user_id = (select auth.uid()));

create policy "Users fill in their own draft check-ins"
  on public.checkins for update to authenticated
  using (user_id = (select auth.uid()) and status = 'draft')
  with check (user_id = (select auth.uid()));

create policy "Users delete their own draft check-ins"
  on public.checkins for delete to authenticated
  using (user_id = (select auth.uid()) and status = 'draft');

-- -----------------------------------------------------------------------------------------------------
-- grants: users write only the user-owned columns.
-- -----------------------------------------------------------------------------------------------------
revoke all on table public.checkins from public, anon, authenticated, service_role;
grant select, delete on table public.checkins to authenticated;
grant insert (id, user_id, category_id, level, answers, note, status) on table public.checkins to authenticated;
grant update (level, answers, note, status) on table public.checkins to authenticated;
grant select, insert, update, delete on table public.checkins to service_role;

-- -----------------------------------------------------------------------------------------------------
-- triggers
-- -----------------------------------------------------------------------------------------------------

-- Answers fit the category's form; a completed check-in is frozen; completed_at is stamped.
-- Security definer: it calls internal validators, which no API role may execute.
create function internal.validate_checkin() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  category record;
  problem text;
begin
  if tg_op = 'UPDATE' and old.status = 'completed'
     and (new.category_id, new.level, new.answers, new.note, new.status)
         is distinct from (old.category_id, old.level, old.answers, old.note, old.status) then
    raise exception 'status: a completed check-in cannot be changed; start a new check-in'
      using errcode = 'check_violation', column = 'status', table = 'checkins';
  end if;
  if tg_op = 'INSERT' or (new.category_id, new.answers, new.status)
                         is distinct from (old.category_id, old.answers, old.status) then
    select c.slug, c.checkin_enabled, c.checkin_questions into category
      from public.categories c where c.id = new.category_id and c.is_active;
    if not found then
      raise exception 'category_id: % is not an active category', new.category_id
        using errcode = 'foreign_key_violation', column = 'category_id', table = 'checkins';
    end if;
    if not category.checkin_enabled then
      raise exception 'category_id: check-ins are not enabled for category "%"', category.slug
        using errcode = 'check_violation', column = 'category_id', table = 'checkins';
    end if;
    problem := internal.checkin_answers_problem(category.checkin_questions, new.answers, new.status = 'completed');
    if problem is not null then
      raise exception '%', problem using errcode = 'check_violation', column = 'answers', table = 'checkins';
    end if;
  end if;
  if new.status = 'completed' and new.completed_at is null then
    new.completed_at := now();
  end if;
  return new;
end;
$$;
comment on function internal.validate_checkin() is
  'Trigger: check-in answers fit the category''s questions; completed check-ins are frozen.';

create trigger checkins_validate
  before insert or update on public.checkins
  for each row execute function internal.validate_checkin();

create trigger checkins_set_updated_at
  before update on public.checkins
  for each row execute function internal.set_updated_at();

revoke execute on function internal.checkin_answers_problem(jsonb, jsonb, boolean), internal.validate_checkin()
  from public, anon, authenticated;
