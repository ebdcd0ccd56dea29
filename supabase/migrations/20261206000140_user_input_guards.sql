-- =====================================================================================================
-- Guards on what users write that reaches prompts or names the catalogue.
--
--   display names  no control characters (newlines, tabs, escapes) nor bidirectional overrides: a name
--                  reaches the coach's system prompt; the workers also mark every user value as data
--                  (shared/prompts.py). Sign-up keeps never failing: it drops such characters.
--   retired catalogue entries  a conversation cannot be started in, or moved to, an inactive category
--                  or with an inactive coach, and a profile cannot pick an inactive coach, even by id
--                  (RLS hides them from lists, but an id can still be sent). Rows that already name a
--                  retired entry keep it; only a change to one is refused.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- display names
-- -----------------------------------------------------------------------------------------------------
create function internal.without_control_characters(p_text text) returns text
  language sql
  immutable
  set search_path = ''
as $$
  select regexp_replace(p_text, '[[:cntrl:]\u200b-\u200f\u202a-\u202e\u2066-\u2069]+', ' ', 'g')
$$;
comment on function internal.without_control_characters(text) is
  'The text with control characters and bidirectional controls replaced by a space.';

update public.profiles
   set display_name = nullif(btrim(internal.without_control_characters(display_name)), '')
 where display_name ~ '[[:cntrl:]\u200b-\u200f\u202a-\u202e\u2066-\u2069]';

alter table public.profiles
  add constraint profiles_display_name_no_control_characters
  check (display_name !~ '[[:cntrl:]\u200b-\u200f\u202a-\u202e\u2066-\u2069]');
comment on constraint profiles_display_name_no_control_characters on public.profiles is
  'A display name reaches the coach''s prompt: no newlines, tabs, control or bidirectional characters.';

-- Restated from 20261123093300_profiles: the sign-up metadata's name loses its control characters.
create or replace function internal.handle_new_user() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  meta jsonb := coalesce(new.raw_user_meta_data, '{}'::jsonb);
  display text := nullif(btrim(left(internal.without_control_characters(
                    coalesce(meta ->> 'display_name', meta ->> 'full_name', meta ->> 'name')), 80)), '');
  tz text := meta ->> 'timezone';
  lang text := meta ->> 'locale';
begin
  insert into public.profiles (id, display_name, timezone, locale)
  values (
    new.id,
    display,
    case when internal.is_time_zone(tz) then tz else 'UTC' end,
    case when lang ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$' then lang else 'en' end
  )
  on conflict (id) do nothing;
  return new;
end;
$$;

revoke execute on function internal.without_control_characters(text) from public, anon, authenticated;
grant execute on function internal.without_control_characters(text) to service_role;

-- -----------------------------------------------------------------------------------------------------
-- retired catalogue entries
-- -----------------------------------------------------------------------------------------------------
create function internal.refuse_retired_catalogue() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  old_coach uuid;
  old_category uuid;
begin
  if tg_op = 'UPDATE' then
    old_coach := old.coach_id;
    if tg_table_name = 'conversations' then
      old_category := old.category_id;
    end if;
  end if;
  if new.coach_id is not null and new.coach_id is distinct from old_coach
     and not exists (select 1 from public.coaches c where c.id = new.coach_id and c.is_active) then
    raise exception 'coach_id: coach % does not exist or is retired', new.coach_id
      using errcode = 'check_violation', column = 'coach_id', table = tg_table_name,
            hint = 'Pick one of the active coaches (select from coaches).';
  end if;
  if tg_table_name = 'conversations' then  -- (PL/pgSQL does not short-circuit: profiles have no category_id)
    if new.category_id is not null and new.category_id is distinct from old_category
       and not exists (select 1 from public.categories c where c.id = new.category_id and c.is_active) then
      raise exception 'category_id: category % does not exist or is retired', new.category_id
        using errcode = 'check_violation', column = 'category_id', table = tg_table_name,
              hint = 'Pick one of the active categories (select from categories).';
    end if;
  end if;
  return new;
end;
$$;
comment on function internal.refuse_retired_catalogue() is
  'Trigger: a conversation or profile may not be given an inactive (or unknown) coach or category.';
revoke execute on function internal.refuse_retired_catalogue() from public, anon, authenticated;

create trigger conversations_refuse_retired_catalogue
  before insert or update of coach_id, category_id on public.conversations
  for each row execute function internal.refuse_retired_catalogue();
create trigger profiles_refuse_retired_catalogue
  before insert or update of coach_id on public.profiles
  for each row execute function internal.refuse_retired_catalogue();
