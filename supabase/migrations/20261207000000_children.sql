-- =====================================================================================================
-- Children shared by caregivers: a child, its members (owner, caregiver, viewer) and invitations.
--
-- Two apps are about a child, not the account holder, and a child has several caregivers who see the
-- same data. Shared access is decided in one place: access.member_child_ids(min_role), the children the
-- calling user is a member of with at least that role (owner > caregiver > viewer). Every policy of a
-- child-scoped table uses it, evaluated once per statement:
--
--   using (child_id = any ((select access.member_child_ids('viewer'))::uuid[]))     -- any member reads
--   with check (child_id = any ((select access.member_child_ids('caregiver'))::uuid[])) -- owners, caregivers write
--   ... access.member_child_ids('owner') ...                                          -- owners manage
--
-- so removing a member (deleting the row) takes effect at the next statement everywhere: REST, Realtime
-- (each change is checked against the subscriber's policies), Storage (policies on storage.objects) and
-- the AI's context (built only for members). docs/schema.md states the rule; tests/schema/test_children.py
-- fails for a child-scoped table whose policies do not use the helper.
--
-- The creator of a child is its owner (a trigger adds the membership). Others join by invitation: an
-- owner calls invite_child_member(), which returns a single-use token once (only its SHA-256 is stored)
-- and queues the `child_invitation` job (20261207000100): an invitee without an account gets Auth's
-- invite email, whose link brings them back to the app with the token; the signed-in invitee accepts
-- with accept_child_invitation(token). Owners change roles and remove members directly (REST); the last
-- owner can be neither demoted nor removed.
-- Conversations and check-ins may be about a child (child_id): only for members (restrictive policies).
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- schema: access (the helpers policies call as the caller; not exposed through the API)
-- -----------------------------------------------------------------------------------------------------
create schema if not exists access;
comment on schema access is
  'Helpers that RLS policies call, executed as the caller (anon, authenticated). Not exposed through the API; '
  'each function is granted explicitly.';
revoke all on schema access from public;
grant usage on schema access to anon, authenticated, service_role;

-- -----------------------------------------------------------------------------------------------------
-- types
-- -----------------------------------------------------------------------------------------------------
create type public.child_member_role as enum ('owner', 'caregiver', 'viewer');
comment on type public.child_member_role is
  'owner: manages the child (members, invitations) and does everything a caregiver does; caregiver: reads and '
  'writes the child''s data (journal, documents, videos, reports, share links); viewer: reads only. Ordered: '
  'owner < caregiver < viewer, so "at least caregiver" is role <= ''caregiver''.';

create type public.child_invitation_delivery as enum ('queued', 'auth_invite_sent', 'existing_account', 'failed');
comment on type public.child_invitation_delivery is
  'queued: the invitation email job has not run yet; auth_invite_sent: the invitee had no account and got '
  'Auth''s invite email (its link carries the token); existing_account: the invitee has an account, so no '
  'email was sent (the owner shares the link); failed: the email could not be sent (see delivery_error).';

-- -----------------------------------------------------------------------------------------------------
-- table: children
-- -----------------------------------------------------------------------------------------------------
create table public.children (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  date_of_birth date not null,
  sex public.profile_sex,
  timezone text not null default 'UTC',
  notes text not null default '',
  created_by uuid not null default auth.uid() references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint children_name_1_to_80_characters check (char_length(btrim(name)) between 1 and 80),
  constraint children_date_of_birth_after_2000 check (date_of_birth >= date '2000-01-01'),
  constraint children_notes_at_most_4000_characters check (char_length(notes) <= 4000)
);
comment on table public.children is
  'A child the app is about, shared by its members (child_members): any member reads it, owners and '
  'caregivers change it, owners delete it. The creator is its first owner.';
comment on column public.children.id is 'Child id; the first folder of the child''s files in Storage.';
comment on column public.children.name is 'What the family calls the child, 1 to 80 characters.';
comment on column public.children.date_of_birth is 'Date of birth; the age in months is computed from it, never stored.';
comment on column public.children.sex is 'Optional: female, male, other or prefer_not_to_say.';
comment on column public.children.timezone is 'IANA time zone of the child''s home (e.g. Asia/Jerusalem).';
comment on column public.children.notes is 'What the family wants the coach to know (at most 4,000 characters).';
comment on column public.children.created_by is 'Who added the child (defaults to the caller); its first owner.';
comment on column public.children.created_at is 'When the child was added.';
comment on column public.children.updated_at is 'When the child last changed.';

create index children_created_by_idx on public.children (created_by);

-- -----------------------------------------------------------------------------------------------------
-- table: child_members
-- -----------------------------------------------------------------------------------------------------
create table public.child_members (
  -- Deferred: the creator's membership is inserted by the child's BEFORE INSERT trigger, before the row.
  child_id uuid not null references public.children (id) on delete cascade deferrable initially deferred,
  user_id uuid not null references auth.users (id) on delete cascade,
  role public.child_member_role not null,
  invited_by uuid references auth.users (id) on delete set null,
  accepted_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (child_id, user_id)
);
comment on table public.child_members is
  'Who shares a child, and with which role. Members read the child''s members; owners change roles and '
  'remove members (at once, everywhere); a member may leave. Rows are added by the child''s creation (its '
  'owner) and by accepted invitations.';
comment on column public.child_members.child_id is 'The child.';
comment on column public.child_members.user_id is 'The member.';
comment on column public.child_members.role is 'owner, caregiver or viewer; see the type child_member_role.';
comment on column public.child_members.invited_by is 'Who invited them (null for the creator).';
comment on column public.child_members.accepted_at is 'When they joined (the child''s creation, or accepting an invitation).';
comment on column public.child_members.created_at is 'When the row was written.';
comment on column public.child_members.updated_at is 'When the role last changed.';

-- The helper's lookup: a user's children with their role, from the index alone.
create index child_members_user_id_idx on public.child_members (user_id) include (role);
create index child_members_invited_by_idx on public.child_members (invited_by);

-- -----------------------------------------------------------------------------------------------------
-- the membership helper: the one source of shared access
-- -----------------------------------------------------------------------------------------------------
-- The children the caller is a member of with at least p_min_role. Policies call it as
-- `(select access.member_child_ids('caregiver'))`: an init plan, run once per statement, whose array the
-- rows are compared with (child_id = any (...)), so a policy costs one index-only lookup per statement.
-- Security definer: it reads child_members, whose own policies call it. Volatile, not stable: a stable
-- function sees the statement's snapshot, and an INSERT ... RETURNING of a new child must see the owner
-- membership its BEFORE INSERT trigger has just written.
create function access.member_child_ids(p_min_role public.child_member_role) returns uuid[]
  language plpgsql
  volatile
  security definer
  set search_path = ''
as $$
begin
  -- PL/pgSQL keeps this plan for the session; a SQL function with SET would be planned on every call.
  return coalesce((select array_agg(m.child_id) from public.child_members m
                    where m.user_id = (select auth.uid()) and m.role <= p_min_role), '{}');
end;
$$;
comment on function access.member_child_ids(public.child_member_role) is
  'The children the calling user is a member of with at least p_min_role (owner > caregiver > viewer). The one '
  'helper of every child-scoped policy: child_id = any ((select access.member_child_ids(''viewer''))::uuid[]).';
revoke execute on function access.member_child_ids(public.child_member_role) from public;
grant execute on function access.member_child_ids(public.child_member_role) to anon, authenticated, service_role;

-- Whether a given user is a member of a child with at least a role (for workers, tools and contexts that
-- act for a user other than the caller).
create function internal.is_child_member(p_child_id uuid, p_user_id uuid, p_min_role public.child_member_role)
  returns boolean
  language sql
  stable
  set search_path = ''
as $$
  select exists (select 1 from public.child_members m
                  where m.child_id = p_child_id and m.user_id = p_user_id and m.role <= p_min_role)
$$;
comment on function internal.is_child_member(uuid, uuid, public.child_member_role) is
  'Whether p_user_id is a member of p_child_id with at least p_min_role (for contexts built for a user).';

-- -----------------------------------------------------------------------------------------------------
-- rls: children and child_members
-- -----------------------------------------------------------------------------------------------------
alter table public.children enable row level security;
create policy "Members read their children" on public.children for select to authenticated
  using (id = any ((select access.member_child_ids('viewer'))::uuid[]));
-- A new child is the caller's (nobody is a member of it yet: the trigger below makes the caller its owner).
create policy "Signed-in users add children" on public.children for insert to authenticated
  with check (created_by = (select auth.uid()));
create policy "Owners and caregivers change their children" on public.children for update to authenticated
  using (id = any ((select access.member_child_ids('caregiver'))::uuid[]))
  with check (id = any ((select access.member_child_ids('caregiver'))::uuid[]));
create policy "Owners delete their children" on public.children for delete to authenticated
  using (id = any ((select access.member_child_ids('owner'))::uuid[]));

alter table public.child_members enable row level security;
create policy "Members see who shares their children" on public.child_members for select to authenticated
  using (child_id = any ((select access.member_child_ids('viewer'))::uuid[]));
create policy "Owners change members' roles" on public.child_members for update to authenticated
  using (child_id = any ((select access.member_child_ids('owner'))::uuid[]))
  with check (child_id = any ((select access.member_child_ids('owner'))::uuid[]));
create policy "Owners remove members and members leave" on public.child_members for delete to authenticated
  using (child_id = any ((select access.member_child_ids('owner'))::uuid[])
         or (user_id = (select auth.uid()) and child_id = any ((select access.member_child_ids('viewer'))::uuid[])));

revoke all on table public.children from public, anon, authenticated, service_role;
grant select, delete on table public.children to authenticated;
grant insert (id, name, date_of_birth, sex, timezone, notes, created_by) on table public.children to authenticated;
grant update (name, date_of_birth, sex, timezone, notes) on table public.children to authenticated;
grant select, insert, update, delete on table public.children to service_role;

revoke all on table public.child_members from public, anon, authenticated, service_role;
grant select, delete on table public.child_members to authenticated;
grant update (role) on table public.child_members to authenticated;
grant select, insert, update, delete on table public.child_members to service_role;

-- -----------------------------------------------------------------------------------------------------
-- triggers: the creator is the owner; the time zone is a real one; a child always keeps an owner
-- -----------------------------------------------------------------------------------------------------
create function internal.stamp_child() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  if not internal.is_time_zone(new.timezone) then
    raise exception 'timezone: "%" is not an IANA time zone name (e.g. Asia/Jerusalem)', new.timezone
      using errcode = 'check_violation', column = 'timezone', table = 'children';
  end if;
  new.updated_at := now();
  if tg_op = 'INSERT' then
    insert into public.child_members (child_id, user_id, role, accepted_at) values (new.id, new.created_by, 'owner', now());
  end if;
  return new;
end;
$$;
comment on function internal.stamp_child() is
  'Trigger: a child''s time zone is an IANA name; updated_at; the creator becomes its owner. Security definer: '
  'users may not insert memberships themselves.';
create trigger children_stamp before insert or update on public.children
  for each row execute function internal.stamp_child();

-- The last owner can be neither demoted nor removed (the child would have nobody to manage it); deleting
-- the child itself removes every membership with it.
create function internal.keep_an_owner() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  if old.role = 'owner' and (tg_op = 'DELETE' or new.role <> 'owner')
     and exists (select 1 from public.children c where c.id = old.child_id)
     and not exists (select 1 from public.child_members m
                      where m.child_id = old.child_id and m.role = 'owner' and m.user_id <> old.user_id) then
    raise exception 'role: the last owner of a child cannot be removed or demoted; make another member owner first'
      using errcode = 'check_violation', column = 'role', table = 'child_members',
            constraint = 'child_members_keep_an_owner';
  end if;
  if tg_op = 'UPDATE' then
    new.updated_at := now();
    return new;
  end if;
  return old;
end;
$$;
comment on function internal.keep_an_owner() is
  'Trigger: a child keeps at least one owner; updated_at on role changes.';
create trigger child_members_keep_an_owner before update or delete on public.child_members
  for each row execute function internal.keep_an_owner();

revoke execute on function internal.is_child_member(uuid, uuid, public.child_member_role),
  internal.stamp_child(), internal.keep_an_owner() from public, anon, authenticated;
grant execute on function internal.is_child_member(uuid, uuid, public.child_member_role) to service_role;

alter publication supabase_realtime add table public.children, public.child_members;

-- -----------------------------------------------------------------------------------------------------
-- tokens: unguessable, handed out once, stored as their SHA-256 only
-- -----------------------------------------------------------------------------------------------------
-- 256 bits from the server's strong random source (two v4 UUIDs: 244 random bits), URL-safe base64.
create function internal.new_token() returns text
  language sql
  volatile
  set search_path = ''
as $$
  select rtrim(translate(encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), '=')
$$;
comment on function internal.new_token() is 'A new unguessable token (244 random bits, URL-safe base64): hand it out once, store its hash.';

create function internal.token_hash(p_token text) returns bytea
  language sql
  immutable
  set search_path = ''
as $$
  select sha256(convert_to(coalesce(p_token, ''), 'UTF8'))
$$;
comment on function internal.token_hash(text) is 'SHA-256 of a token: what is stored and looked up, never the token.';

revoke execute on function internal.new_token(), internal.token_hash(text) from public, anon, authenticated;
grant execute on function internal.new_token(), internal.token_hash(text) to service_role;

-- -----------------------------------------------------------------------------------------------------
-- table: child_invitations
-- -----------------------------------------------------------------------------------------------------
create table public.child_invitations (
  id uuid primary key default gen_random_uuid(),
  child_id uuid not null references public.children (id) on delete cascade,
  email text not null,
  role public.child_member_role not null default 'caregiver',
  invited_by uuid references auth.users (id) on delete set null,
  expires_at timestamptz not null,
  accepted_at timestamptz,
  accepted_by uuid references auth.users (id) on delete set null,
  delivery public.child_invitation_delivery not null default 'queued',
  delivery_error text,
  created_at timestamptz not null default now(),
  constraint child_invitations_email_format check (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' and email = lower(email)
                                                    and char_length(email) <= 320),
  constraint child_invitations_accepted_together check ((accepted_at is null) = (accepted_by is null)),
  constraint child_invitations_delivery_error_at_most_1000_characters check (char_length(delivery_error) <= 1000)
);
comment on table public.child_invitations is
  'Invitations to share a child, by email: single-use, expiring, accepted with the token by the signed-in '
  'invitee (accept_child_invitation). Created by owners through invite_child_member; owners read them and '
  'delete (revoke) pending ones.';
comment on column public.child_invitations.id is 'Invitation id.';
comment on column public.child_invitations.child_id is 'The child to share.';
comment on column public.child_invitations.email is 'The invitee''s email address (lower case); only that account can accept.';
comment on column public.child_invitations.role is 'The role the invitee gets: owner, caregiver or viewer.';
comment on column public.child_invitations.invited_by is 'The owner who invited.';
comment on column public.child_invitations.expires_at is 'After this the token is refused.';
comment on column public.child_invitations.accepted_at is 'When it was accepted (then the token is spent).';
comment on column public.child_invitations.accepted_by is 'Who accepted it.';
comment on column public.child_invitations.delivery is 'What happened to the invitation email; see the type child_invitation_delivery.';
comment on column public.child_invitations.delivery_error is 'Why the email failed, when it did.';
comment on column public.child_invitations.created_at is 'When the invitation was made.';

create index child_invitations_child_id_idx on public.child_invitations (child_id, created_at desc);
create index child_invitations_invited_by_idx on public.child_invitations (invited_by);
create index child_invitations_accepted_by_idx on public.child_invitations (accepted_by);

alter table public.child_invitations enable row level security;
create policy "Owners read their children's invitations" on public.child_invitations for select to authenticated
  using (child_id = any ((select access.member_child_ids('owner'))::uuid[]));
create policy "Owners revoke pending invitations" on public.child_invitations for delete to authenticated
  using (child_id = any ((select access.member_child_ids('owner'))::uuid[]) and accepted_at is null);

revoke all on table public.child_invitations from public, anon, authenticated, service_role;
grant select, delete on table public.child_invitations to authenticated;
grant select, insert, update, delete on table public.child_invitations to service_role;

-- The tokens' hashes live apart from the rows users read (so `select *` stays allowed and shows none).
create table internal.child_invitation_tokens (
  invitation_id uuid primary key references public.child_invitations (id) on delete cascade,
  token_hash bytea not null,
  constraint child_invitation_tokens_token_hash_key unique (token_hash)
);
comment on table internal.child_invitation_tokens is
  'SHA-256 of each invitation''s token (the token itself is never stored); looked up by accept_child_invitation.';
comment on column internal.child_invitation_tokens.invitation_id is 'The invitation.';
comment on column internal.child_invitation_tokens.token_hash is 'internal.token_hash(token).';
alter table internal.child_invitation_tokens enable row level security;
revoke all on table internal.child_invitation_tokens from public, anon, authenticated, service_role;
grant select on table internal.child_invitation_tokens to service_role;

-- -----------------------------------------------------------------------------------------------------
-- rpc: invite, accept
-- -----------------------------------------------------------------------------------------------------
-- An owner invites someone by email. Returns the token once ({invitation_id, token, expires_at}): the app
-- may share it as a link; a pending invitation to the same address is replaced. The invitation email job
-- carries the token until the email is sent, then forgets it (20261207000100).
create function public.invite_child_member(p_child_id uuid, p_email text, p_role public.child_member_role default 'caregiver',
                                           p_valid_hours integer default 168) returns jsonb
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  address text := lower(btrim(coalesce(p_email, '')));
  token text := internal.new_token();
  invitation public.child_invitations;
begin
  if not (p_child_id = any (access.member_child_ids('owner'))) then
    raise exception 'child_id: only an owner of this child may invite' using errcode = '42501';
  end if;
  if p_valid_hours is null or p_valid_hours not between 1 and 720 then
    raise exception 'valid_hours: must be between 1 and 720' using errcode = '22023';
  end if;
  if exists (select 1 from public.child_members m join auth.users u on u.id = m.user_id
              where m.child_id = p_child_id and lower(u.email) = address) then
    raise exception 'email: % is already a member of this child', address using errcode = '23505';
  end if;
  delete from public.child_invitations i where i.child_id = p_child_id and i.email = address and i.accepted_at is null;
  insert into public.child_invitations (child_id, email, role, invited_by, expires_at)
  values (p_child_id, address, coalesce(p_role, 'caregiver'), auth.uid(), now() + make_interval(hours => p_valid_hours))
  returning * into invitation;
  insert into internal.child_invitation_tokens (invitation_id, token_hash) values (invitation.id, internal.token_hash(token));
  perform internal.enqueue_job(
    'child_invitation',
    jsonb_build_object('invitation_id', invitation.id, 'child_id', p_child_id, 'user_id', auth.uid(), 'token', token),
    'child_invitation:' || invitation.id::text,
    null
  );
  return jsonb_build_object('invitation_id', invitation.id, 'token', token, 'expires_at', invitation.expires_at);
end;
$$;
comment on function public.invite_child_member(uuid, text, public.child_member_role, integer) is
  'Owners: invite someone by email to share a child with a role; returns {invitation_id, token, expires_at} (the '
  'token only here) and queues the invitation email. Replaces a pending invitation to the same address.';

-- The signed-in invitee accepts with the token: single use, before it expires, by the invited address.
create function public.accept_child_invitation(p_token text) returns jsonb
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  invitation public.child_invitations;
  caller uuid := auth.uid();
  address text := lower(coalesce(auth.jwt() ->> 'email', ''));
begin
  if caller is null then
    raise exception 'sign in to accept an invitation' using errcode = '42501';
  end if;
  select i.* into invitation from public.child_invitations i
    join internal.child_invitation_tokens t on t.invitation_id = i.id
   where t.token_hash = internal.token_hash(p_token)
     for update of i;
  if not found then
    raise exception 'token: this invitation is not valid (it may have been revoked)' using errcode = 'P0002';
  end if;
  if invitation.accepted_at is not null then
    raise exception 'token: this invitation has already been used' using errcode = '22023';
  end if;
  if invitation.expires_at <= now() then
    raise exception 'token: this invitation expired on %', to_char(invitation.expires_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')
      using errcode = '22023';
  end if;
  if invitation.email <> address then
    raise exception 'token: this invitation was sent to another email address' using errcode = '42501';
  end if;
  insert into public.child_members (child_id, user_id, role, invited_by, accepted_at)
  values (invitation.child_id, caller, invitation.role, invitation.invited_by, now())
  on conflict (child_id, user_id) do update
     set role = least(public.child_members.role, excluded.role), updated_at = now();
  update public.child_invitations set accepted_at = now(), accepted_by = caller where id = invitation.id;
  return jsonb_build_object('child_id', invitation.child_id, 'role', invitation.role,
                            'child_name', (select c.name from public.children c where c.id = invitation.child_id));
end;
$$;
comment on function public.accept_child_invitation(text) is
  'The signed-in invitee: accept an invitation with its token (single use, unexpired, for the caller''s email); '
  'returns {child_id, role, child_name}.';

revoke execute on function public.invite_child_member(uuid, text, public.child_member_role, integer),
  public.accept_child_invitation(text) from public, anon;
grant execute on function public.invite_child_member(uuid, text, public.child_member_role, integer),
  public.accept_child_invitation(text) to authenticated, service_role;

-- -----------------------------------------------------------------------------------------------------
-- conversations and check-ins about a child
-- -----------------------------------------------------------------------------------------------------
alter table public.conversations add column child_id uuid references public.children (id) on delete set null;
comment on column public.conversations.child_id is
  'The child the conversation is about (one its owner is a member of), if any: replies then get the child and '
  'the journey in their context, for as long as the owner stays a member.';
create index conversations_child_id_idx on public.conversations (child_id);
grant insert (child_id) on table public.conversations to authenticated;
grant update (child_id) on table public.conversations to authenticated;
-- Restrictive: in addition to the owner's own policies.
create policy "Conversations are only about children their owner shares" on public.conversations
  as restrictive for insert to authenticated
  with check (child_id is null or child_id = any ((select access.member_child_ids('viewer'))::uuid[]));
create policy "Conversations only move to children their owner shares" on public.conversations
  as restrictive for update to authenticated
  using (true)
  with check (child_id is null or child_id = any ((select access.member_child_ids('viewer'))::uuid[]));

alter table public.checkins add column child_id uuid references public.children (id) on delete set null;
comment on column public.checkins.child_id is
  'The child the check-in is about (one its owner cares for: owner or caregiver), if any: its analysis then '
  'gets the child in its context.';
create index checkins_child_id_idx on public.checkins (child_id);
grant insert (child_id) on table public.checkins to authenticated;
grant update (child_id) on table public.checkins to authenticated;
create policy "Check-ins are only about children their owner cares for" on public.checkins
  as restrictive for insert to authenticated
  with check (child_id is null or child_id = any ((select access.member_child_ids('caregiver'))::uuid[]));
create policy "Check-ins only move to children their owner cares for" on public.checkins
  as restrictive for update to authenticated
  using (true)
  with check (child_id is null or child_id = any ((select access.member_child_ids('caregiver'))::uuid[]));
