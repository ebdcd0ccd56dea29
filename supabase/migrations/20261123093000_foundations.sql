-- =====================================================================================================
-- Foundations: grants are explicit, and internals live outside the API.
--
-- Supabase grants every new table, function and sequence in `public` to anon and authenticated, and
-- Postgres lets PUBLIC execute every new function. This project turns both off for objects its
-- migrations create (as `postgres`), so a forgotten grant fails closed; each table and function below
-- grants exactly what it needs.
-- =====================================================================================================

alter default privileges for role postgres in schema public revoke all on tables from anon, authenticated, service_role;
alter default privileges for role postgres in schema public revoke all on sequences from anon, authenticated, service_role;
alter default privileges for role postgres in schema public revoke all on functions from anon, authenticated, service_role;
alter default privileges for role postgres revoke execute on functions from public;

-- -----------------------------------------------------------------------------------------------------
-- Schema `internal`: helpers (trigger functions, validators) and operator-only content (prompts,
-- guidelines, settings, jobs). Not in the API's exposed schemas; anon and authenticated get nothing.
-- -----------------------------------------------------------------------------------------------------
create schema if not exists internal;
comment on schema internal is
  'coachbase internals: prompts, guidelines, settings, jobs and helper functions. Not exposed through the '
  'API; operators edit it in Studio, workers reach it through service_role-only functions in public.';
revoke all on schema internal from public, anon, authenticated;
grant usage on schema internal to service_role;

-- -----------------------------------------------------------------------------------------------------
-- Shared trigger helpers
-- -----------------------------------------------------------------------------------------------------
create function internal.set_updated_at() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
comment on function internal.set_updated_at() is 'Trigger: stamp updated_at on every update.';

-- A JSON value is a non-empty string of at most max_length characters.
create function internal.is_short_text(value jsonb, max_length integer) returns boolean
  language sql
  immutable
  set search_path = ''
as $$
  select coalesce(jsonb_typeof(value) = 'string' and char_length(btrim(value #>> '{}')) between 1 and max_length,
                  false)
$$;
comment on function internal.is_short_text(jsonb, integer) is
  'Validator: a JSON string of 1..max_length characters (used by the check-in validators).';

revoke execute on function internal.set_updated_at(), internal.is_short_text(jsonb, integer)
  from public, anon, authenticated;
