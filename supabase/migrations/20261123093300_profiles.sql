-- =====================================================================================================
-- profiles: one row per auth user, created by a trigger when the user signs up. The owner reads and
-- updates it; nobody else reads it.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- types
-- -----------------------------------------------------------------------------------------------------
create type public.profile_sex as enum ('female', 'male', 'other', 'prefer_not_to_say');
comment on type public.profile_sex is
  'Sex the user chose to share. female; male; other: another answer; prefer_not_to_say: asked and declined.';

-- -----------------------------------------------------------------------------------------------------
-- table
-- -----------------------------------------------------------------------------------------------------
create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  display_name text,
  birth_date date,
  sex public.profile_sex,
  timezone text not null default 'UTC',
  locale text not null default 'en',
  coach_id uuid references public.coaches (id) on delete set null,
  avatar_path text,
  mood_config jsonb not null default '{}'::jsonb,
  preferences jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint profiles_display_name_1_to_80_characters check (char_length(btrim(display_name)) between 1 and 80),
  constraint profiles_birth_date_after_1900 check (birth_date >= date '1900-01-01'),
  constraint profiles_locale_bcp47 check (locale ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
  constraint profiles_avatar_path_at_most_1024_characters check (char_length(avatar_path) <= 1024),
  constraint profiles_mood_config_is_object check (jsonb_typeof(mood_config) = 'object'),
  constraint profiles_preferences_is_object check (jsonb_typeof(preferences) = 'object')
);

comment on table public.profiles is
  'One per auth user, created at sign-up (display name from the sign-up metadata). The owner reads and '
  'updates it; nobody else reads it.';
comment on column public.profiles.id is 'The auth user (auth.users.id).';
comment on column public.profiles.display_name is 'How the coach addresses the user; from sign-up metadata display_name, full_name or name.';
comment on column public.profiles.birth_date is 'Optional; lets coaches adapt to age.';
comment on column public.profiles.sex is 'Optional; see the type profile_sex.';
comment on column public.profiles.timezone is 'IANA time zone (e.g. Europe/Berlin); schedules follow-ups and daily summaries.';
comment on column public.profiles.locale is 'BCP 47 language tag (e.g. en, de-CH); the coach replies in this language.';
comment on column public.profiles.coach_id is 'The coach the user chose; new conversations default to it in the app.';
comment on column public.profiles.avatar_path is 'Path of the user''s avatar in Storage (bucket/path).';
comment on column public.profiles.mood_config is 'App-defined mood scale settings (labels, emojis), a JSON object.';
comment on column public.profiles.preferences is 'App-defined preferences (notifications, reply length, tone), a JSON object.';
comment on column public.profiles.created_at is 'When the profile was created (sign-up).';
comment on column public.profiles.updated_at is 'When the profile was last changed.';

-- -----------------------------------------------------------------------------------------------------
-- indexes (policies filter by id, the primary key)
-- -----------------------------------------------------------------------------------------------------
create index profiles_coach_id_idx on public.profiles (coach_id);

-- -----------------------------------------------------------------------------------------------------
-- rls
-- -----------------------------------------------------------------------------------------------------
alter table public.profiles enable row level security;

create policy "Users read their own profile"
  on public.profiles for select to authenticated
  using (id = (select auth.uid()));

create policy "Users update their own profile"
  on public.profiles for update to authenticated
  using (id = (select auth.uid()))
  with check (id = (select auth.uid()));

-- -----------------------------------------------------------------------------------------------------
-- grants: profiles are created by the sign-up trigger; the owner changes only their own fields.
-- -----------------------------------------------------------------------------------------------------
revoke all on table public.profiles from public, anon, authenticated, service_role;
grant select on table public.profiles to authenticated;
grant update (display_name, birth_date, sex, timezone, locale, coach_id, avatar_path, mood_config, preferences)
  on table public.profiles to authenticated;
grant select, insert, update, delete on table public.profiles to service_role;

-- -----------------------------------------------------------------------------------------------------
-- triggers
-- -----------------------------------------------------------------------------------------------------

-- A time zone name Postgres knows (the IANA database), e.g. Europe/Berlin.
create function internal.is_time_zone(tz_name text) returns boolean
  language plpgsql
  stable
  set search_path = ''
as $$
begin
  perform now() at time zone tz_name;
  return tz_name is not null and tz_name <> '';
exception
  when invalid_parameter_value then
    return false;
end;
$$;
comment on function internal.is_time_zone(text) is 'Validator: whether tz_name is a time zone Postgres knows (IANA).';

create function internal.validate_profile() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  -- Inline rather than internal.is_time_zone(): this runs as the user, who may not call internal functions.
  perform now() at time zone new.timezone;
  return new;
exception
  when invalid_parameter_value then
    raise exception 'timezone: "%" is not an IANA time zone name (e.g. Europe/Berlin)', new.timezone
      using errcode = 'check_violation', column = 'timezone', table = 'profiles';
end;
$$;
comment on function internal.validate_profile() is 'Trigger: profiles.timezone must be an IANA time zone.';

create trigger profiles_validate
  before insert or update of timezone on public.profiles
  for each row execute function internal.validate_profile();

create trigger profiles_set_updated_at
  before update on public.profiles
  for each row execute function internal.set_updated_at();

-- Sign-up: create the profile. Security definer because Auth (supabase_auth_admin) inserts the user and
-- has no rights on public. Never fails a sign-up: bad metadata falls back to defaults.
create function internal.handle_new_user() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  meta jsonb := coalesce(new.raw_user_meta_data, '{}'::jsonb);
  display text := nullif(btrim(left(coalesce(meta ->> 'display_name', meta ->> 'full_name', meta ->> 'name'), 80)), '');
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
comment on function internal.handle_new_user() is
  'Trigger on auth.users: create the user''s profile (display name, time zone, locale from sign-up metadata).';

create trigger on_auth_user_created
  after insert on auth.users
  for each row execute function internal.handle_new_user();

revoke execute on function internal.is_time_zone(text), internal.validate_profile(), internal.handle_new_user()
  from public, anon, authenticated;
