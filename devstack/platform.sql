-- =====================================================================================================
-- devstack platform bootstrap: what a real Supabase project already holds before its own migrations.
--
-- Applied once per database by `devstack.migrate` as the bootstrap superuser `supabase_admin`, before
-- supabase/migrations/*.sql (which then run as the NON-superuser `postgres`, exactly as the Supabase CLI
-- runs them). Each section names the real Supabase object it stands for:
--   * supabase/postgres   migrations/db/init-scripts/*.sql  (roles, grants, extensions schema, publication)
--   * supabase/auth       migrations/*.sql                  (auth.* tables and helper functions)
--   * supabase/storage    migrations                        (storage.buckets / objects)
--   * supabase/realtime   lib/realtime/tenants/repo/migrations (realtime.messages, topic, send, …)
-- Only the parts a project's migrations and the devstack services rely on are reproduced.
-- The script is idempotent: roles are cluster-wide and survive a database being re-created.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- Roles (supabase/postgres init-scripts 00000000000000-initial-schema.sql, demote-postgres migration)
-- Every login role uses the CLI's local password 'postgres' (set by devstack.migrate, not here).
-- -----------------------------------------------------------------------------------------------------
do $roles$
declare
  r record;
begin
  for r in
    select * from (values
      -- role name,                 attributes
      ('postgres',                   'login createdb createrole replication bypassrls'),
      ('anon',                       'nologin noinherit'),
      ('authenticated',              'nologin noinherit'),
      ('service_role',               'nologin noinherit bypassrls'),
      ('authenticator',              'login noinherit'),
      ('supabase_auth_admin',        'login noinherit createrole'),
      ('supabase_storage_admin',     'login noinherit createrole'),
      ('supabase_realtime_admin',    'nologin noinherit'),
      ('supabase_replication_admin', 'login replication'),
      ('supabase_read_only_user',    'login bypassrls')
    ) as t(name, attrs)
  loop
    if not exists (select 1 from pg_roles where rolname = r.name) then
      execute format('create role %I %s', r.name, r.attrs);
    else
      execute format('alter role %I %s', r.name, r.attrs);
    end if;
  end loop;
end
$roles$;

-- On Supabase `postgres` is NOT a superuser (10000000000000_demote-postgres.sql).
alter role postgres nosuperuser;

-- PostgREST and Realtime connect as `authenticator` and switch to the request's role.
grant anon, authenticated, service_role to authenticator;
-- `postgres` (Studio's SQL editor, migrations) may act as the API roles, as on Supabase.
grant anon, authenticated, service_role to postgres;
-- `postgres` is a member of the realtime admin role, so migrations may add policies on realtime.messages.
grant supabase_realtime_admin to postgres;
grant pg_read_all_data to supabase_read_only_user;

-- Statement timeouts of the API roles; `service_role` has none of its own, so its requests get the 8 s of
-- `authenticator`, the role PostgREST logs in as (Supabase's "Timeouts" guide). PostgREST applies the
-- impersonated role's settings to each request itself (devstack/rest/config.py).
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';

-- On Supabase `postgres` may change the settings of the API roles and PostgREST's in-database
-- configuration (`alter role authenticator set pgrst.db_aggregates_enabled = 'true'`): the supautils
-- extension lets it (`reserved_roles` with `*`, `privileged_role_allowed_configs` with `pgrst.*`). Here,
-- without supautils, the same through plain grants: ADMIN OPTION on those roles (never becoming
-- `authenticator`), and SET on the `pgrst.*` parameters PostgREST reads from the database.
grant anon, authenticated, service_role to postgres with admin option;
grant authenticator to postgres with admin option, inherit false, set false;
do $pgrst$
declare
  name text;
begin
  foreach name in array array[
    'db_aggregates_enabled', 'client_error_verbosity', 'db_anon_role', 'db_pre_config', 'db_extra_search_path',
    'db_max_rows', 'db_plan_enabled', 'db_pre_request', 'db_prepared_statements', 'db_root_spec', 'db_schemas',
    'db_timezone_enabled', 'db_tx_end', 'db_hoisted_tx_settings', 'jwt_aud', 'jwt_role_claim_key', 'jwt_secret',
    'jwt_secret_is_base64', 'jwt_cache_max_lifetime', 'openapi_mode', 'openapi_security_active',
    'openapi_server_proxy_uri', 'server_cors_allowed_origins', 'server_trace_header', 'server_timing_enabled']
  loop
    execute format('grant set on parameter %I to postgres', 'pgrst.' || name);
  end loop;
end
$pgrst$;
alter role supabase_auth_admin set search_path = auth;

-- -----------------------------------------------------------------------------------------------------
-- Database and `public` schema ownership: the database belongs to `postgres`, so it may create in
-- `public` (owned by pg_database_owner since PG15).
-- -----------------------------------------------------------------------------------------------------
do $db$
begin
  execute format('alter database %I owner to postgres', current_database());
end
$db$;

-- -----------------------------------------------------------------------------------------------------
-- Default privileges on `public` (initial-schema.sql): every new table, function and sequence created by
-- `postgres` or `supabase_admin` is granted to anon and authenticated. RLS and explicit revokes are the
-- only guards, exactly as on hosted Supabase.
-- -----------------------------------------------------------------------------------------------------
grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on sequences to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on sequences to postgres, anon, authenticated, service_role;

-- -----------------------------------------------------------------------------------------------------
-- Schema `extensions` (initial-schema.sql). Real Supabase installs uuid-ossp and pgcrypto there; the
-- embedded PostgreSQL ships neither, so uuid_generate_v4() is provided as a thin stand-in over core
-- gen_random_uuid(). Other extensions (pgvector) are NOT pre-installed: as on Supabase, a migration
-- asks for them (`create extension if not exists vector with schema extensions`), see below.
-- -----------------------------------------------------------------------------------------------------
create schema if not exists extensions authorization postgres;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
create or replace function extensions.uuid_generate_v4() returns uuid
  language sql volatile parallel safe set search_path = ''
  as $$ select pg_catalog.gen_random_uuid() $$;
comment on function extensions.uuid_generate_v4() is
  'devstack stand-in for uuid-ossp''s uuid_generate_v4() (not shipped with the embedded PostgreSQL).';
alter role postgres set search_path = "$user", public, extensions;
alter role supabase_admin set search_path = "$user", public, extensions;

-- -----------------------------------------------------------------------------------------------------
-- Privileged extensions (the supautils extension's `privileged_extensions`). On Supabase the non-superuser
-- `postgres` may `create extension` an allow-listed extension (vector, pg_trgm, ...): supautils runs that
-- one statement as the superuser. supautils does not exist here, so two event triggers do the same for
-- the extensions this PostgreSQL ships: just before a CREATE EXTENSION run by `postgres`, `postgres` is
-- made a superuser in that transaction only (others never see it: the change is not committed yet), and
-- just after it, demoted again; an extension off the list is refused and rolled back. A migration that
-- forgets `create extension` therefore fails here as it would on Supabase.
-- -----------------------------------------------------------------------------------------------------
create or replace function extensions.devstack_superuser_for_extension(p_promote boolean) returns void
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  if p_promote then
    execute 'alter role postgres superuser';
    perform pg_catalog.set_config('devstack.extension_superuser', 'on', true);
  elsif pg_catalog.current_setting('devstack.extension_superuser', true) = 'on' then
    execute 'alter role postgres nosuperuser';
    perform pg_catalog.set_config('devstack.extension_superuser', 'off', true);
  end if;
end;
$$;
comment on function extensions.devstack_superuser_for_extension(boolean) is
  'devstack stand-in for supautils: make `postgres` a superuser for one CREATE EXTENSION (true), then demote it.';
revoke execute on function extensions.devstack_superuser_for_extension(boolean) from public;
grant execute on function extensions.devstack_superuser_for_extension(boolean) to postgres;

create or replace function extensions.devstack_before_create_extension() returns event_trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if current_user = 'postgres' and not (select r.rolsuper from pg_catalog.pg_roles r where r.rolname = 'postgres') then
    perform extensions.devstack_superuser_for_extension(true);
  end if;
end;
$$;

create or replace function extensions.devstack_after_create_extension() returns event_trigger
  language plpgsql
  set search_path = ''
as $$
declare
  created record;
begin
  if pg_catalog.current_setting('devstack.extension_superuser', true) is distinct from 'on' then
    return;
  end if;
  perform extensions.devstack_superuser_for_extension(false);
  for created in
    select e.oid, e.extname from pg_catalog.pg_event_trigger_ddl_commands() c
      join pg_catalog.pg_extension e on e.oid = c.objid
     where c.classid = 'pg_catalog.pg_extension'::regclass
  loop
    if created.extname <> all (array['vector', 'pg_trgm', 'unaccent', 'citext', 'pgcrypto', 'uuid-ossp']) then
      raise exception 'extension "%" is not available on Supabase to postgres (devstack allow-list)', created.extname
        using errcode = '42501';
    end if;
    -- supautils creates it as the superuser, whose functions everyone may call; here `postgres` created it,
    -- and a project's `revoke execute on functions from public` default would otherwise apply to them.
    execute (select string_agg(format('grant execute on function %s to public', d.objid::regprocedure), '; ')
               from pg_catalog.pg_depend d
              where d.refclassid = 'pg_catalog.pg_extension'::regclass and d.refobjid = created.oid
                and d.classid = 'pg_catalog.pg_proc'::regclass and d.deptype = 'e');
  end loop;
end;
$$;

do $triggers$
begin
  if not exists (select 1 from pg_event_trigger where evtname = 'devstack_privileged_extensions_before') then
    create event trigger devstack_privileged_extensions_before on ddl_command_start
      when tag in ('CREATE EXTENSION') execute function extensions.devstack_before_create_extension();
    create event trigger devstack_privileged_extensions_after on ddl_command_end
      when tag in ('CREATE EXTENSION') execute function extensions.devstack_after_create_extension();
  end if;
end
$triggers$;

-- -----------------------------------------------------------------------------------------------------
-- Publication `supabase_realtime` (initial-schema.sql): starts empty, owned by `postgres` so that a
-- migration may `alter publication supabase_realtime add table …`.
-- -----------------------------------------------------------------------------------------------------
do $pub$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$pub$;
alter publication supabase_realtime owner to postgres;

-- -----------------------------------------------------------------------------------------------------
-- Schema `auth` (supabase/auth migrations, current column set). Owned by supabase_auth_admin, which
-- the devstack Auth endpoint (GoTrue stand-in) connects as.
-- -----------------------------------------------------------------------------------------------------
create schema if not exists auth authorization supabase_admin;
grant all on schema auth to supabase_auth_admin;
grant usage on schema auth to postgres, anon, authenticated, service_role;

create table if not exists auth.instances (
  id uuid primary key,
  uuid uuid,
  raw_base_config text,
  created_at timestamptz,
  updated_at timestamptz
);

create table if not exists auth.users (
  instance_id uuid,
  id uuid primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_token varchar(255),
  confirmation_sent_at timestamptz,
  recovery_token varchar(255),
  recovery_sent_at timestamptz,
  email_change_token_new varchar(255),
  email_change varchar(255),
  email_change_sent_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  phone text unique default null,
  phone_confirmed_at timestamptz,
  phone_change text default '',
  phone_change_token varchar(255) default '',
  phone_change_sent_at timestamptz,
  confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
  email_change_token_current varchar(255) default '',
  email_change_confirm_status smallint default 0 check (email_change_confirm_status between 0 and 2),
  banned_until timestamptz,
  reauthentication_token varchar(255) default '',
  reauthentication_sent_at timestamptz,
  is_sso_user boolean not null default false,
  deleted_at timestamptz,
  is_anonymous boolean not null default false
);
create unique index if not exists users_email_partial_key on auth.users (email) where is_sso_user = false;
create index if not exists users_instance_id_idx on auth.users (instance_id);
create index if not exists users_is_anonymous_idx on auth.users (is_anonymous);
comment on table auth.users is 'Auth: Stores user login data within a secure schema.';

create table if not exists auth.identities (
  provider_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  identity_data jsonb not null,
  provider text not null,
  last_sign_in_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz,
  email text generated always as (lower(identity_data ->> 'email')) stored,
  id uuid primary key default gen_random_uuid(),
  constraint identities_provider_id_provider_unique unique (provider_id, provider)
);
create index if not exists identities_user_id_idx on auth.identities (user_id);
comment on table auth.identities is 'Auth: Stores identities associated to a user.';

create table if not exists auth.sessions (
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz,
  updated_at timestamptz,
  factor_id uuid,
  aal text,
  not_after timestamptz,
  refreshed_at timestamp,
  user_agent text,
  ip inet,
  tag text
);
create index if not exists sessions_user_id_idx on auth.sessions (user_id);
comment on table auth.sessions is 'Auth: Stores session data associated to a user.';

create table if not exists auth.refresh_tokens (
  instance_id uuid,
  id bigserial primary key,
  token varchar(255) unique,
  user_id varchar(255),
  revoked boolean,
  created_at timestamptz,
  updated_at timestamptz,
  parent varchar(255),
  session_id uuid references auth.sessions (id) on delete cascade
);
create index if not exists refresh_tokens_session_id_revoked_idx on auth.refresh_tokens (session_id, revoked);
create index if not exists refresh_tokens_parent_idx on auth.refresh_tokens (parent);
comment on table auth.refresh_tokens is 'Auth: Store of tokens used to refresh JWT tokens once they expire.';

create table if not exists auth.audit_log_entries (
  instance_id uuid,
  id uuid primary key,
  payload json,
  created_at timestamptz,
  ip_address varchar(64) not null default ''
);
comment on table auth.audit_log_entries is 'Auth: Audit trail for user actions.';

-- Flow state of PKCE sign-ups (supabase/auth flow_state), so `grant_type=pkce` can exchange a code.
create table if not exists auth.flow_state (
  id uuid primary key,
  user_id uuid,
  auth_code text not null,
  code_challenge_method text not null,
  code_challenge text not null,
  provider_type text not null,
  provider_access_token text,
  provider_refresh_token text,
  created_at timestamptz,
  updated_at timestamptz,
  authentication_method text not null,
  auth_code_issued_at timestamptz
);
create index if not exists idx_auth_code on auth.flow_state (auth_code);

-- MFA (supabase/auth mfa migrations): factors, challenges, and the methods each session was
-- authenticated with (the access token's `amr`).
create table if not exists auth.mfa_factors (
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  friendly_name text,
  factor_type text not null,
  status text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  secret text,
  phone text,
  last_challenged_at timestamptz unique
);
create unique index if not exists mfa_factors_user_friendly_name_unique on auth.mfa_factors (friendly_name, user_id)
  where trim(friendly_name) <> '';
create index if not exists factor_id_created_at_idx on auth.mfa_factors (user_id, created_at);

create table if not exists auth.mfa_challenges (
  id uuid primary key,
  factor_id uuid not null references auth.mfa_factors (id) on delete cascade,
  created_at timestamptz not null,
  verified_at timestamptz,
  ip_address inet not null,
  otp_code text
);

create table if not exists auth.mfa_amr_claims (
  session_id uuid not null references auth.sessions (id) on delete cascade,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  authentication_method text not null,
  id uuid not null,
  constraint amr_id_pk primary key (id),
  constraint mfa_amr_claims_session_id_authentication_method_pkey unique (session_id, authentication_method)
);

alter table auth.instances owner to supabase_auth_admin;
alter table auth.users owner to supabase_auth_admin;
alter table auth.identities owner to supabase_auth_admin;
alter table auth.sessions owner to supabase_auth_admin;
alter table auth.refresh_tokens owner to supabase_auth_admin;
alter sequence auth.refresh_tokens_id_seq owner to supabase_auth_admin;
alter table auth.audit_log_entries owner to supabase_auth_admin;
alter table auth.flow_state owner to supabase_auth_admin;
alter table auth.mfa_factors owner to supabase_auth_admin;
alter table auth.mfa_challenges owner to supabase_auth_admin;
alter table auth.mfa_amr_claims owner to supabase_auth_admin;

-- `postgres` may reference auth.users, put a trigger on it (profile creation) and manage rows, as on
-- Supabase; the API roles get nothing on auth tables.
grant select, insert, update, delete, references, trigger on all tables in schema auth to postgres;
grant usage, select on all sequences in schema auth to postgres;

-- Claim helpers (current supabase/auth versions): read `request.jwt.claims`, falling back to the older
-- per-claim settings.
create or replace function auth.uid() returns uuid
  language sql stable
  as $$
  select nullif(
    coalesce(
      nullif(current_setting('request.jwt.claim.sub', true), ''),
      (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    ),
    ''
  )::uuid
$$;
comment on function auth.uid() is 'Deprecated. Use auth.jwt() -> ''sub'' instead.';

create or replace function auth.role() returns text
  language sql stable
  as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.email() returns text
  language sql stable
  as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
  language sql stable
  as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.email() owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;
grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
  to postgres, anon, authenticated, service_role;

-- -----------------------------------------------------------------------------------------------------
-- Schema `storage` (supabase/storage migrations/tenant/*.sql, the columns storage-api v1.60 uses): buckets
-- and objects with RLS, the path helpers policies use, and the trigger that refuses direct SQL deletes.
-- The devstack's /storage/v1 (devstack/storage) connects as supabase_storage_admin and runs every
-- request as the caller's role, so these policies decide it. `postgres` is a member of
-- supabase_storage_admin (as in the CLI's image), so migrations may insert buckets and create policies
-- on storage.objects; the API roles get ALL on both tables (0046): RLS is the only guard.
-- -----------------------------------------------------------------------------------------------------
create schema if not exists storage authorization supabase_admin;
grant usage on schema storage to postgres, anon, authenticated, service_role;
grant all on schema storage to supabase_storage_admin;
grant anon, authenticated, service_role to supabase_storage_admin;
grant supabase_storage_admin to postgres;

create table if not exists storage.buckets (
  id text primary key,
  name text not null,
  owner uuid,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  public boolean default false,
  avif_autodetection boolean default false,
  file_size_limit bigint,
  allowed_mime_types text[],
  owner_id text
);
alter table storage.buckets add column if not exists avif_autodetection boolean default false;
alter table storage.buckets add column if not exists owner_id text;
create unique index if not exists bname on storage.buckets using btree (name);
comment on column storage.buckets.owner is 'Field is deprecated, use owner_id instead';

create table if not exists storage.objects (
  id uuid primary key default gen_random_uuid(),
  bucket_id text references storage.buckets (id),
  name text,
  owner uuid,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_accessed_at timestamptz default now(),
  metadata jsonb,
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  version text,
  owner_id text,
  user_metadata jsonb
);
alter table storage.objects add column if not exists owner_id text;
alter table storage.objects add column if not exists user_metadata jsonb;
create unique index if not exists bucketid_objname on storage.objects (bucket_id, name);
create index if not exists name_prefix_search on storage.objects (name text_pattern_ops);
comment on column storage.objects.owner is 'Field is deprecated, use owner_id instead';
alter table storage.objects enable row level security;
alter table storage.buckets enable row level security;

create or replace function storage.foldername(name text) returns text[]
  language plpgsql immutable
  as $$
declare
  _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[1 : array_length(_parts, 1) - 1];
end
$$;

create or replace function storage.filename(name text) returns text
  language plpgsql immutable
  as $$
declare
  _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[array_length(_parts, 1)];
end
$$;

create or replace function storage.extension(name text) returns text
  language plpgsql immutable
  as $$
declare
  _parts text[];
  _filename text;
begin
  select string_to_array(name, '/') into _parts;
  select _parts[array_length(_parts, 1)] into _filename;
  return reverse(split_part(reverse(_filename), '.', 1));
end
$$;

-- What the request is doing (storage-api sets it per request; policies may read it).
create or replace function storage.operation() returns text
  language plpgsql stable
  as $$
begin
  return current_setting('storage.operation', true);
end
$$;

-- 0055: a DELETE on storage tables outside the Storage API would orphan the stored bytes.
create or replace function storage.protect_delete() returns trigger
  language plpgsql
  as $$
begin
  if coalesce(current_setting('storage.allow_delete_query', true), 'false') != 'true' then
    raise exception 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
      using hint = 'This prevents accidental data loss from orphaned objects.', errcode = '42501';
  end if;
  return null;
end
$$;
create or replace trigger protect_objects_delete before delete on storage.objects
  for each statement execute function storage.protect_delete();
create or replace trigger protect_buckets_delete before delete on storage.buckets
  for each statement execute function storage.protect_delete();

alter table storage.buckets owner to supabase_storage_admin;
alter table storage.objects owner to supabase_storage_admin;
alter function storage.foldername(text) owner to supabase_storage_admin;
alter function storage.filename(text) owner to supabase_storage_admin;
alter function storage.extension(text) owner to supabase_storage_admin;
alter function storage.operation() owner to supabase_storage_admin;
alter function storage.protect_delete() owner to supabase_storage_admin;
grant all on storage.buckets, storage.objects to postgres, anon, authenticated, service_role;
grant execute on function storage.foldername(text), storage.filename(text), storage.extension(text),
  storage.operation() to postgres, anon, authenticated, service_role;

-- -----------------------------------------------------------------------------------------------------
-- Schema `realtime` (supabase/realtime tenant migrations): broadcast messages and their helpers.
-- realtime.messages is partitioned by day on Supabase (the server creates the partitions); here a
-- default partition catches every day. Private channels are authorized by RLS on this table.
-- -----------------------------------------------------------------------------------------------------
create schema if not exists realtime authorization supabase_admin;
grant usage on schema realtime to postgres, anon, authenticated, service_role;
grant all on schema realtime to supabase_realtime_admin;

create table if not exists realtime.messages (
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp not null default now(),
  inserted_at timestamp not null default now(),
  id uuid not null default gen_random_uuid(),
  primary key (id, inserted_at)
) partition by range (inserted_at);
create table if not exists realtime.messages_default partition of realtime.messages default;
create index if not exists messages_inserted_at_topic_index on realtime.messages (inserted_at desc, topic)
  where extension = 'broadcast' and private is true;
alter table realtime.messages enable row level security;
alter table realtime.messages owner to supabase_realtime_admin;
alter table realtime.messages_default owner to supabase_realtime_admin;
grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;
comment on table realtime.messages is
  'Realtime: broadcast messages (from realtime.send / broadcast_changes) and private-channel authorization.';

-- The topic of the channel being authorized or sent to (set by the server and by realtime.send).
create or replace function realtime.topic() returns text
  language sql stable
  as $$ select nullif(current_setting('realtime.topic', true), '')::text $$;

-- Broadcast `payload` as `event` on `topic` from inside a transaction; errors never abort the caller.
create or replace function realtime.send(payload jsonb, event text, topic text, private boolean default true)
  returns void
  language plpgsql
  as $$
declare
  generated_id uuid;
  final_payload jsonb;
begin
  begin
    generated_id := gen_random_uuid();
    if payload ? 'id' then
      final_payload := payload;
    else
      final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
    end if;
    perform set_config('realtime.topic', topic, true);
    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (generated_id, final_payload, event, topic, private, 'broadcast');
  exception
    when others then
      raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
  end;
end
$$;

-- Broadcast a row change from a trigger: {record, old_record, operation, table, schema}.
create or replace function realtime.broadcast_changes(
  topic_name text,
  event_name text,
  operation text,
  table_name text,
  table_schema text,
  new record,
  old record,
  level text default 'ROW'
) returns void
  language plpgsql
  as $$
declare
  row_data jsonb := '{}'::jsonb;
begin
  if level = 'STATEMENT' then
    raise exception 'function can only be triggered for each row, not for each statement';
  end if;
  if operation = 'INSERT' or operation = 'UPDATE' or operation = 'DELETE' then
    row_data := jsonb_build_object(
      'old_record', old, 'record', new, 'operation', operation,
      'table', table_name, 'schema', table_schema
    );
    perform realtime.send(row_data, event_name, topic_name);
  else
    raise exception 'Unexpected operation type: %', operation;
  end if;
end
$$;

alter function realtime.topic() owner to supabase_realtime_admin;
alter function realtime.send(jsonb, text, text, boolean) owner to supabase_realtime_admin;
alter function realtime.broadcast_changes(text, text, text, text, text, record, record, text)
  owner to supabase_realtime_admin;
grant execute on function realtime.topic() to postgres, anon, authenticated, service_role;
revoke execute on function realtime.send(jsonb, text, text, boolean) from public;
revoke execute on function realtime.broadcast_changes(text, text, text, text, text, record, record, text)
  from public;
grant execute on function realtime.send(jsonb, text, text, boolean) to postgres, service_role;
grant execute on function realtime.broadcast_changes(text, text, text, text, text, record, record, text)
  to postgres, service_role;

-- -----------------------------------------------------------------------------------------------------
-- Schema `supabase_migrations` (created by the Supabase CLI): what `supabase db reset/push` applied.
-- -----------------------------------------------------------------------------------------------------
create schema if not exists supabase_migrations authorization postgres;
create table if not exists supabase_migrations.schema_migrations (
  version text primary key,
  statements text[],
  name text
);
alter table supabase_migrations.schema_migrations owner to postgres;
