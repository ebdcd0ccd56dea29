-- =====================================================================================================
-- Bad input is refused when it is written, with the field's name, instead of being stored and failing
-- later (in a worker, a prompt, a search). Found by trying bad values as a user against every table and
-- function clients write:
-- * a user message of only whitespace other than spaces (newlines, tabs, U+00A0, U+3000) was accepted,
--   and queued a reply and a safety assessment: model calls for nothing;
-- * time zones: Postgres also reads POSIX strings ('+05:00' is UTC-5, 'UTC+5') and any letter case,
--   which the worker's zoneinfo refuses (falling back to UTC): SQL and the worker disagreed on the day;
-- * dates of 'infinity' (an age of -3,507,001 months in the coach's context), a plan item at position
--   NaN (and every item added after it), NULL tags and focus areas, megabytes in jsonb settings columns;
-- * a note whose blocks had the wrong shapes was stored, and its search indexing and task extraction
--   then died on it (22P02, 22023): the note was silently never searchable;
-- * a search text of 220 kB overflowed the stack building its word query (54001: HTTP 500).
-- New checks are added NOT VALID: rows already stored are left as they are, new and changed rows are
-- checked (a migration must not fail on data it did not write).
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- messages: a user message has something to say
-- -----------------------------------------------------------------------------------------------------
-- btrim() strips ASCII spaces only; this also counts the other whitespace and the invisible format
-- characters as nothing.
alter table public.messages drop constraint messages_content_1_to_8000_characters;
alter table public.messages add constraint messages_content_1_to_8000_characters
  check (role <> 'user' or (char_length(content) between 1 and 8000
                             and content ~ '[^[:space:]\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]'))
  not valid;

-- -----------------------------------------------------------------------------------------------------
-- time zones: IANA names, spelt as the time zone database spells them
-- -----------------------------------------------------------------------------------------------------
-- pg_timezone_names lists the database's names (case as spelt); a POSIX string or another case is not
-- there. Reading it takes a few milliseconds, so the triggers look only when the time zone changes.
create or replace function internal.is_time_zone(tz_name text) returns boolean
  language sql
  stable
  set search_path = ''
as $$
  select exists (select 1 from pg_catalog.pg_timezone_names z where z.name = tz_name)
$$;
comment on function internal.is_time_zone(text) is
  'Validator: whether tz_name is a name of the IANA time zone database (as spelt there), e.g. Europe/Berlin. '
  'A POSIX string such as +05:00, which Postgres also reads, is not.';

create or replace function internal.validate_profile() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  -- Inline rather than internal.is_time_zone(): this runs as the user, who may not call internal functions.
  if (tg_op = 'INSERT' or new.timezone is distinct from old.timezone)
     and not exists (select 1 from pg_catalog.pg_timezone_names z where z.name = new.timezone) then
    raise exception 'timezone: "%" is not an IANA time zone name (e.g. Europe/Berlin)', new.timezone
      using errcode = 'check_violation', column = 'timezone', table = 'profiles';
  end if;
  return new;
end;
$$;

-- -----------------------------------------------------------------------------------------------------
-- dates are dates: not 'infinity', and a birth not in the future
-- -----------------------------------------------------------------------------------------------------
alter table public.children add constraint children_date_of_birth_not_in_the_future
  check (isfinite(date_of_birth) and date_of_birth <= current_date + 1) not valid;
alter table public.profiles add constraint profiles_birth_date_not_in_the_future
  check (isfinite(birth_date) and birth_date <= current_date + 1) not valid;
alter table public.goals add constraint goals_due_date_is_a_date check (isfinite(due_date)) not valid;
alter table public.tasks add constraint tasks_due_date_is_a_date check (isfinite(due_date)) not valid;
alter table public.journal_entries add constraint journal_entries_entry_date_is_a_date
  check (isfinite(entry_date)) not valid;
alter table public.reflections add constraint reflections_entry_date_is_a_date check (isfinite(entry_date)) not valid;
alter table public.daily_plans add constraint daily_plans_date_is_a_date check (isfinite(date)) not valid;
alter table public.weekly_plans add constraint weekly_plans_week_start_date_is_a_date
  check (isfinite(week_start_date)) not valid;
alter table public.conversations add constraint conversations_archived_at_is_a_time
  check (isfinite(archived_at)) not valid;

-- -----------------------------------------------------------------------------------------------------
-- numbers and lists
-- -----------------------------------------------------------------------------------------------------
-- NaN sorts after every number, and an item added without a position goes after the last: one NaN made
-- every later item NaN too.
alter table public.plan_items add constraint plan_items_position_a_number
  check (position between -1e12 and 1e12) not valid;
alter table public.journal_entries add constraint journal_entries_tags_a_list_of_text
  check (array_position(tags, null) is null and coalesce(array_ndims(tags), 1) = 1) not valid;
alter table public.weekly_plans add constraint weekly_plans_focus_areas_a_list_of_text
  check (array_position(focus_areas, null) is null and coalesce(array_ndims(focus_areas), 1) = 1) not valid;

-- -----------------------------------------------------------------------------------------------------
-- jsonb settings and metadata: at most 64 kB each (a note's content has its own 1 MB bound)
-- -----------------------------------------------------------------------------------------------------
alter table public.profiles add constraint profiles_preferences_at_most_64_kb
  check (octet_length(preferences::text) <= 65536) not valid;
alter table public.profiles add constraint profiles_mood_config_at_most_64_kb
  check (octet_length(mood_config::text) <= 65536) not valid;
alter table public.notes add constraint notes_metadata_at_most_64_kb
  check (octet_length(metadata::text) <= 65536) not valid;
alter table public.tasks add constraint tasks_metadata_at_most_64_kb
  check (octet_length(metadata::text) <= 65536) not valid;
alter table public.reflections add constraint reflections_metadata_at_most_64_kb
  check (octet_length(metadata::text) <= 65536) not valid;

-- -----------------------------------------------------------------------------------------------------
-- notes: blocks of unexpected shapes are read as far as they go, never fail the note's jobs
-- -----------------------------------------------------------------------------------------------------
-- As in 20261208000100, with `checked` read only when it is a boolean, and a table's rows and cells only
-- when they are arrays.
create function internal.json_array(p_value jsonb) returns jsonb
  language sql
  immutable
  set search_path = ''
as $$
  select case when jsonb_typeof(p_value) = 'array' then p_value else '[]'::jsonb end
$$;
comment on function internal.json_array(jsonb) is 'The value if it is a JSON array, else an empty one (for reading client JSON).';
revoke execute on function internal.json_array(jsonb) from public, anon, authenticated;
grant execute on function internal.json_array(jsonb) to service_role;

create or replace function internal.blocknote_blocks(p_blocks jsonb, p_depth integer default 0) returns jsonb
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
                                 from jsonb_array_elements(internal.json_array(b.value -> 'content' -> 'rows')) r,
                                      jsonb_array_elements(internal.json_array(r.value -> 'cells')) cell)
                            else internal.blocknote_inline_text(b.value -> 'content') end,
               'checked', case when jsonb_typeof(b.value -> 'props' -> 'checked') = 'boolean'
                               then (b.value -> 'props' -> 'checked')::boolean end,
               'depth', p_depth) as item
        from jsonb_array_elements(internal.json_array(p_blocks)) with ordinality as b(value, ordinality)
      union all
      select b.ordinality, c.ordinality, c.value
        from jsonb_array_elements(internal.json_array(p_blocks)) with ordinality as b(value, ordinality),
             jsonb_array_elements(internal.blocknote_blocks(b.value -> 'children', p_depth + 1))
             with ordinality as c(value, ordinality)
       where p_depth < 20
    ) x
$$;

-- -----------------------------------------------------------------------------------------------------
-- checkins: changing a completed one is refused with the reason, not matched to no row
-- -----------------------------------------------------------------------------------------------------
-- The update policy matched drafts only, so an update of a completed check-in matched no row (HTTP 200,
-- nothing changed, no error) and the trigger's "a completed check-in cannot be changed" never reached a
-- user. The policy now matches the user's own check-ins and the trigger refuses; it also freezes the
-- check-in's child (updatable since 20261207000000).
drop policy "Users fill in their own draft check-ins" on public.checkins;
create policy "Users change their own check-ins (completed ones are frozen by checkins_validate)"
  on public.checkins for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

create or replace function internal.validate_checkin() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  category record;
  problem text;
begin
  if tg_op = 'UPDATE' and old.status = 'completed'
     and (new.category_id, new.level, new.answers, new.note, new.status, new.child_id)
         is distinct from (old.category_id, old.level, old.answers, old.note, old.status, old.child_id) then
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

-- -----------------------------------------------------------------------------------------------------
-- search: the words of the first 10,000 characters
-- -----------------------------------------------------------------------------------------------------
-- A query is an OR of its words; Postgres overflows its stack printing one of some 20,000 words, and
-- refuses a tsquery over 1 MB. No question needs more than the words of its first 10,000 characters.
create or replace function tools.any_words_query(p_text text) returns tsquery
  language sql
  immutable
  set search_path = ''
as $$
  select nullif(replace(pg_catalog.plainto_tsquery('english'::regconfig, left(coalesce(p_text, ''), 10000))::text,
                        ' & ', ' | '), '')::tsquery
$$;
comment on function tools.any_words_query(text) is
  'A full-text query matching any of the words of a text (of its first 10,000 characters).';
