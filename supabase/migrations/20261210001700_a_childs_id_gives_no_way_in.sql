-- =====================================================================================================
-- A child's id gives no way in.
-- * internal.stamp_child made the inserting user an owner before ON CONFLICT found the child already
--   there, and a skipped row does not undo its trigger's work: supabase-js `upsert(..., {ignoreDuplicates:
--   true})` with another family's child id (a share link's file paths show it; a member who left knows
--   it) made the caller that child's owner. The creator now becomes owner only of a child that is new.
-- * internal.check_child_file, a BEFORE trigger reading storage.objects as its owner, ran before the row's
--   policies: a stranger inserting a document or video row learnt from the error whether a file existed
--   in another child's folder. It runs after the row is let in now (an AFTER trigger).
-- * find_experts, invite_child_member and create_share_link let a null child id past their permission
--   check (`not (null = any (...))` is null): any user could queue expert_matching jobs for no child.
-- * accept_child_invitation and create_share_link raised P0002 for an unknown token or id, which PostgREST
--   answers 500; they raise PT404 (404), as open_share_link does.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- children: the creator of a new child is its owner; an existing child's id adds nobody
-- -----------------------------------------------------------------------------------------------------
create or replace function internal.stamp_child() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  if (tg_op = 'INSERT' or new.timezone is distinct from old.timezone) and not internal.is_time_zone(new.timezone) then
    raise exception 'timezone: "%" is not an IANA time zone name (e.g. Asia/Jerusalem)', new.timezone
      using errcode = 'check_violation', column = 'timezone', table = 'children';
  end if;
  new.updated_at := now();
  -- Only a new child gets its creator as owner. An insert's BEFORE triggers run before ON CONFLICT finds
  -- an existing row, and skipping the row does not undo what they did: without this check, `upsert` with
  -- ignoreDuplicates and someone else's child id made the caller its owner. Inserts of one id take turns,
  -- so an id being added by a transaction not yet committed is seen as taken once it commits.
  if tg_op = 'INSERT' then
    perform pg_advisory_xact_lock(hashtext('internal.stamp_child'), hashtext(new.id::text));
    if not exists (select 1 from public.children c where c.id = new.id) then
      insert into public.child_members (child_id, user_id, role, accepted_at) values (new.id, new.created_by, 'owner', now());
    end if;
  end if;
  return new;
end;
$$;
comment on function internal.stamp_child() is
  'Trigger: a child''s time zone is an IANA name; updated_at; the creator of a new child becomes its owner (an '
  'insert of an existing id, skipped by ON CONFLICT or refused, adds no member). Security definer: users may not '
  'insert memberships themselves.';

-- -----------------------------------------------------------------------------------------------------
-- documents, videos: the file is looked for once the row's policies have let it in
-- -----------------------------------------------------------------------------------------------------
-- A BEFORE trigger runs before the row's policies are checked; an AFTER trigger, after. Looked for after,
-- the file is in the folder of a child the caller may add files to (the policy and the row's check say
-- so), and a stranger is refused by the policy (42501) before anything is read.
create or replace function internal.check_child_file() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  bucket text := case tg_table_name when 'documents' then 'child-documents' else 'child-videos' end;
begin
  if not exists (select 1 from storage.objects o where o.bucket_id = bucket and o.name = new.storage_path) then
    raise exception 'storage_path: there is no file % in the % bucket: upload the file first', new.storage_path, bucket
      using errcode = '23503', column = 'storage_path', table = tg_table_name;
  end if;
  return null;
end;
$$;
comment on function internal.check_child_file() is
  'Trigger (after insert): a document''s or video''s file is in its bucket. Security definer: it reads '
  'storage.objects, and runs only for a row its policies let in.';
drop trigger documents_check_file on public.documents;
drop trigger videos_check_file on public.videos;
create trigger documents_check_file after insert on public.documents
  for each row execute function internal.check_child_file();
create trigger videos_check_file after insert on public.videos
  for each row execute function internal.check_child_file();
create trigger documents_set_updated_at before update on public.documents
  for each row execute function internal.set_updated_at();
create trigger videos_set_updated_at before update on public.videos
  for each row execute function internal.set_updated_at();

-- -----------------------------------------------------------------------------------------------------
-- rpc: a null child id is nobody's child
-- -----------------------------------------------------------------------------------------------------
create or replace function public.find_experts(p_child_id uuid, p_latitude double precision, p_longitude double precision,
                                    p_radius_km integer default 30) returns jsonb
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  job_id bigint;
begin
  if not coalesce(p_child_id = any (access.member_child_ids('caregiver')), false) then
    raise exception 'child_id: only an owner or caregiver of this child may look for experts' using errcode = '42501';
  end if;
  if p_latitude is null or p_latitude not between -90 and 90 or p_longitude is null or p_longitude not between -180 and 180 then
    raise exception 'latitude, longitude: must be a place on earth (degrees)' using errcode = '22023';
  end if;
  if p_radius_km is null or p_radius_km not between 1 and 500 then
    raise exception 'radius_km: must be between 1 and 500' using errcode = '22023';
  end if;
  job_id := internal.enqueue_job(
    'expert_matching',
    jsonb_build_object('child_id', p_child_id, 'user_id', auth.uid(), 'latitude', p_latitude, 'longitude', p_longitude,
                       'radius_km', p_radius_km),
    'expert_matching:' || p_child_id::text || ':' || gen_random_uuid()::text,
    'expert_matching:' || p_child_id::text
  );
  return jsonb_build_object('queued', job_id is not null);
end;
$$;

create or replace function public.invite_child_member(p_child_id uuid, p_email text, p_role public.child_member_role default 'caregiver',
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
  if not coalesce(p_child_id = any (access.member_child_ids('owner')), false) then
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

create or replace function public.create_share_link(p_child_id uuid, p_report_id uuid default null, p_document_ids uuid[] default '{}',
                                         p_expert_id uuid default null, p_valid_hours integer default 168,
                                         p_label text default '') returns jsonb
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  token text := internal.new_token();
  documents uuid[] := coalesce((select array_agg(distinct d) from unnest(coalesce(p_document_ids, '{}')) d), '{}');
  link public.share_links;
begin
  if not coalesce(p_child_id = any (access.member_child_ids('caregiver')), false) then
    raise exception 'child_id: only an owner or caregiver of this child may share it' using errcode = '42501';
  end if;
  if p_valid_hours is null or p_valid_hours not between 1 and 2160 then
    raise exception 'valid_hours: must be between 1 and 2160 (90 days)' using errcode = '22023';
  end if;
  if p_report_id is not null and not exists (select 1 from public.reports r where r.id = p_report_id
                                               and r.child_id = p_child_id and r.status = 'ready') then
    raise exception 'report_id: no ready report of this child has the id %', p_report_id using errcode = 'PT404';
  end if;
  if (select count(*) from public.documents d where d.id = any (documents) and d.child_id = p_child_id) <> cardinality(documents) then
    raise exception 'document_ids: each must be a document of this child' using errcode = 'PT404';
  end if;
  if p_expert_id is not null and not exists (select 1 from public.experts e where e.id = p_expert_id and e.active and e.verified) then
    raise exception 'expert_id: no active, verified expert has the id %', p_expert_id using errcode = 'PT404';
  end if;
  insert into public.share_links (child_id, created_by, report_id, document_ids, expert_id, label, expires_at)
  values (p_child_id, auth.uid(), p_report_id, documents, p_expert_id, coalesce(p_label, ''),
          now() + make_interval(hours => p_valid_hours))
  returning * into link;
  insert into internal.share_link_tokens (share_link_id, token_hash) values (link.id, internal.token_hash(token));
  return jsonb_build_object('id', link.id, 'token', token, 'expires_at', link.expires_at);
end;
$$;

-- -----------------------------------------------------------------------------------------------------
-- rpc: an unknown token is 404, not 500
-- -----------------------------------------------------------------------------------------------------
create or replace function public.accept_child_invitation(p_token text) returns jsonb
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
    raise exception 'token: this invitation is not valid (it may have been revoked)' using errcode = 'PT404';
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
