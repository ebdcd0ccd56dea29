-- =====================================================================================================
-- categories: the wellness areas a user works on, two levels deep (e.g. Mind > Sleep), each with an
-- optional check-in form. Operators manage them in Studio; the coaching guidelines of each category
-- are operator-only (internal.category_guidelines).
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- check-in form validation (used by the trigger below and by check-ins)
-- -----------------------------------------------------------------------------------------------------

-- Why a check-in form is malformed, or null when it is fine. A form is a JSON array of questions:
--   {"id": "sleep_hours", "label": "How long did you sleep?", "type": "number", "min": 0, "max": 16,
--    "unit": "hours", "required": true}
-- Types: scale (integer min..max, optional min_label/max_label), number (min..max), choice and
-- multi_choice (options: strings), text (optional max_length, default 1000), boolean.
create function internal.checkin_questions_problem(questions jsonb) returns text
  language plpgsql
  immutable
  set search_path = ''
as $$
declare
  question jsonb;
  ids text[] := '{}';
  qid text;
  qtype text;
begin
  if jsonb_typeof(questions) is distinct from 'array' then
    return 'checkin_questions must be a JSON array of questions';
  end if;
  if jsonb_array_length(questions) > 20 then
    return 'checkin_questions holds at most 20 questions';
  end if;
  for question in select value from jsonb_array_elements(questions) loop
    if jsonb_typeof(question) <> 'object' then
      return 'checkin_questions: each question must be a JSON object';
    end if;
    qid := question ->> 'id';
    if qid is null or qid !~ '^[a-z][a-z0-9_]{0,39}$' then
      return format('checkin_questions: question id %s must be 1 to 40 lowercase letters, digits or underscores',
                    coalesce(quote_literal(qid), '(missing)'));
    end if;
    if qid = any(ids) then
      return format('checkin_questions: question id "%s" appears twice', qid);
    end if;
    ids := ids || qid;
    if not internal.is_short_text(question -> 'label', 300) then
      return format('checkin_questions: question "%s" needs a label of 1 to 300 characters', qid);
    end if;
    if question ? 'required' and jsonb_typeof(question -> 'required') <> 'boolean' then
      return format('checkin_questions: question "%s": required must be true or false', qid);
    end if;
    qtype := question ->> 'type';
    case qtype
      when 'scale', 'number' then
        if jsonb_typeof(question -> 'min') is distinct from 'number'
           or jsonb_typeof(question -> 'max') is distinct from 'number'
           or (question ->> 'min')::numeric >= (question ->> 'max')::numeric then
          return format('checkin_questions: question "%s" (%s) needs numbers min < max', qid, qtype);
        end if;
        if qtype = 'scale' and ((question ->> 'min')::numeric % 1 <> 0 or (question ->> 'max')::numeric % 1 <> 0) then
          return format('checkin_questions: question "%s" (scale) needs whole-number min and max', qid);
        end if;
      when 'choice', 'multi_choice' then
        if jsonb_typeof(question -> 'options') is distinct from 'array'
           or jsonb_array_length(question -> 'options') = 0
           or exists (select 1 from jsonb_array_elements(question -> 'options') as o
                       where not internal.is_short_text(o.value, 100)) then
          return format('checkin_questions: question "%s" (%s) needs options: a non-empty array of strings',
                        qid, qtype);
        end if;
      when 'text' then
        if question ? 'max_length' and (jsonb_typeof(question -> 'max_length') <> 'number'
                                        or (question ->> 'max_length')::numeric not between 1 and 4000) then
          return format('checkin_questions: question "%s" (text): max_length must be between 1 and 4000', qid);
        end if;
      when 'boolean' then
        null;
      else
        return format('checkin_questions: question "%s" has unknown type %s '
                      '(use scale, number, choice, multi_choice, text or boolean)',
                      qid, coalesce(quote_literal(qtype), '(missing)'));
    end case;
  end loop;
  return null;
end;
$$;
comment on function internal.checkin_questions_problem(jsonb) is
  'Validator: why a check-in form (categories.checkin_questions) is malformed, or null.';

-- -----------------------------------------------------------------------------------------------------
-- table
-- -----------------------------------------------------------------------------------------------------
create table public.categories (
  id uuid primary key default gen_random_uuid(),
  parent_id uuid references public.categories (id) on delete restrict,
  slug text not null,
  name text not null,
  description text not null default '',
  icon text,
  color text,
  sort_order integer not null default 0,
  checkin_enabled boolean not null default false,
  checkin_questions jsonb not null default '[]'::jsonb,
  followup_after interval,
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint categories_slug_key unique (slug),
  constraint categories_slug_format check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and char_length(slug) <= 60),
  constraint categories_name_1_to_80_characters check (char_length(btrim(name)) between 1 and 80),
  constraint categories_description_at_most_2000_characters check (char_length(description) <= 2000),
  constraint categories_icon_at_most_64_characters check (char_length(icon) <= 64),
  constraint categories_color_hex check (color ~ '^#[0-9a-fA-F]{6}$'),
  constraint categories_parent_is_not_self check (parent_id <> id),
  constraint categories_followup_after_positive_up_to_90_days
    check (followup_after > interval '0' and followup_after <= interval '90 days')
);

comment on table public.categories is
  'Wellness areas, two levels deep (parent_id), each with an optional check-in form. Signed-in users '
  'read the active ones; operators edit them in Studio. Guidelines: internal.category_guidelines.';
comment on column public.categories.id is 'Category id.';
comment on column public.categories.parent_id is 'The top-level category this one belongs to; null for a top-level category.';
comment on column public.categories.slug is 'Stable identifier for code and URLs, e.g. sleep (lowercase, dashes).';
comment on column public.categories.name is 'Display name shown to users.';
comment on column public.categories.description is 'One or two sentences shown to users.';
comment on column public.categories.icon is 'Icon name in the app''s icon set (e.g. a Lucide icon name).';
comment on column public.categories.color is 'Accent colour, #rrggbb.';
comment on column public.categories.sort_order is 'Position among its siblings, ascending.';
comment on column public.categories.checkin_enabled is 'Whether users can check in on this category.';
comment on column public.categories.checkin_questions is
  'The check-in form: a JSON array of questions {id, label, type, required, ...}; types scale (min, max, '
  'min_label, max_label), number (min, max, unit), choice / multi_choice (options), text (max_length), '
  'boolean. Check-in answers are validated against it.';
comment on column public.categories.followup_after is
  'When set, the coach follows up this long after a completed check-in (unless the user checks in again).';
comment on column public.categories.is_active is 'Only active categories are shown to users and accept check-ins.';
comment on column public.categories.created_at is 'When the category was created.';
comment on column public.categories.updated_at is 'When the category was last changed.';

-- -----------------------------------------------------------------------------------------------------
-- indexes
-- -----------------------------------------------------------------------------------------------------
create index categories_parent_id_idx on public.categories (parent_id);
create index categories_is_active_sort_order_idx on public.categories (is_active, sort_order);

-- -----------------------------------------------------------------------------------------------------
-- rls
-- -----------------------------------------------------------------------------------------------------
alter table public.categories enable row level security;

create policy "Signed-in users read active categories"
  on public.categories for select to authenticated
  using (is_active);

-- -----------------------------------------------------------------------------------------------------
-- grants (operators write as postgres in Studio; workers as service_role)
-- -----------------------------------------------------------------------------------------------------
revoke all on table public.categories from public, anon, authenticated, service_role;
grant select on table public.categories to authenticated;
grant select, insert, update, delete on table public.categories to service_role;

-- -----------------------------------------------------------------------------------------------------
-- triggers
-- -----------------------------------------------------------------------------------------------------

-- Keep the hierarchy two levels deep and the check-in form well formed, with messages naming the field.
-- Security definer: it calls internal validators, which no API role may execute.
create function internal.validate_category() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  problem text;
begin
  if new.parent_id is not null then
    if exists (select 1 from public.categories where id = new.parent_id and parent_id is not null) then
      raise exception 'parent_id: categories are two levels deep, and the parent is itself a subcategory'
        using errcode = 'check_violation', column = 'parent_id', table = 'categories';
    end if;
    if exists (select 1 from public.categories where parent_id = new.id) then
      raise exception 'parent_id: category "%" has subcategories, so it must stay top-level', new.slug
        using errcode = 'check_violation', column = 'parent_id', table = 'categories';
    end if;
  end if;
  problem := internal.checkin_questions_problem(new.checkin_questions);
  if problem is not null then
    raise exception '%', problem
      using errcode = 'check_violation', column = 'checkin_questions', table = 'categories';
  end if;
  return new;
end;
$$;
comment on function internal.validate_category() is
  'Trigger: two-level hierarchy and a well-formed check-in form on categories.';

create trigger categories_validate
  before insert or update of parent_id, checkin_questions on public.categories
  for each row execute function internal.validate_category();

create trigger categories_set_updated_at
  before update on public.categories
  for each row execute function internal.set_updated_at();

revoke execute on function internal.checkin_questions_problem(jsonb), internal.validate_category()
  from public, anon, authenticated;
