-- =====================================================================================================
-- Share links: a report and chosen documents, opened by a professional without an account.
--
-- An owner or caregiver creates a link with create_share_link(): its scope (a ready report, documents of
-- the child), an optional expert it is meant for, an expiry. The token is returned once; only its SHA-256
-- is kept (internal.share_link_tokens). Anyone with the token reads exactly that scope through
-- open_share_link(token), which counts the access; a revoked or expired link answers a clear error, an
-- unknown token "not valid". Its files are reached through Storage signed URLs minted per access: the
-- opener asks Storage to sign the file's path with the token in the `x-share-token` header, and a policy
-- on storage.objects for `anon` (access.shared_object) allows exactly the link's files while it is valid.
-- Signed URLs are short (the app asks for 60 s) and cannot be revoked, so revocation stops new ones at
-- once and old ones within their minute. Nothing else of the family is reachable through a link.
-- =====================================================================================================

create table public.share_links (
  id uuid primary key default gen_random_uuid(),
  child_id uuid not null references public.children (id) on delete cascade,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  report_id uuid,
  document_ids uuid[] not null default '{}',
  expert_id uuid references public.experts (id) on delete set null,
  label text not null default '',
  expires_at timestamptz not null,
  revoked_at timestamptz,
  access_count integer not null default 0,
  last_accessed_at timestamptz,
  created_at timestamptz not null default now(),
  constraint share_links_report_fkey foreign key (report_id, child_id) references public.reports (id, child_id) on delete cascade,
  constraint share_links_share_something check (report_id is not null or cardinality(document_ids) > 0),
  constraint share_links_document_ids_at_most_20 check (cardinality(document_ids) <= 20),
  constraint share_links_label_at_most_200_characters check (char_length(label) <= 200),
  constraint share_links_access_count_not_negative check (access_count >= 0)
);
comment on table public.share_links is
  'Links that let someone without an account (a professional) read a report and chosen documents of a child: '
  'scope, optional expert, expiry, revocation, access count. Created with create_share_link (the token is shown '
  'once, only its hash is kept), opened with open_share_link. Members see them; owners and caregivers revoke.';
comment on column public.share_links.id is 'Share link id.';
comment on column public.share_links.child_id is 'The child whose report and documents it shares.';
comment on column public.share_links.created_by is 'Who created it.';
comment on column public.share_links.report_id is 'The report it shares (the child''s own), if any.';
comment on column public.share_links.document_ids is 'The documents it shares (the child''s own), at most 20.';
comment on column public.share_links.expert_id is 'The expert it is meant for, if any (shown to the opener).';
comment on column public.share_links.label is 'A note for the family, e.g. "for Dr. Levi" (at most 200 characters).';
comment on column public.share_links.expires_at is 'After this the link answers "expired".';
comment on column public.share_links.revoked_at is 'When it was revoked (then it answers "revoked"); set once, never cleared.';
comment on column public.share_links.access_count is 'How many times it was opened.';
comment on column public.share_links.last_accessed_at is 'When it was last opened.';
comment on column public.share_links.created_at is 'When it was created.';

create index share_links_child_id_idx on public.share_links (child_id, created_at desc);
create index share_links_report_id_idx on public.share_links (report_id, child_id);
create index share_links_expert_id_idx on public.share_links (expert_id);
create index share_links_created_by_idx on public.share_links (created_by);

create table internal.share_link_tokens (
  share_link_id uuid primary key references public.share_links (id) on delete cascade,
  token_hash bytea not null,
  constraint share_link_tokens_token_hash_key unique (token_hash)
);
comment on table internal.share_link_tokens is 'SHA-256 of each share link''s token (the token itself is never stored).';
comment on column internal.share_link_tokens.share_link_id is 'The share link.';
comment on column internal.share_link_tokens.token_hash is 'internal.token_hash(token).';
alter table internal.share_link_tokens enable row level security;
revoke all on table internal.share_link_tokens from public, anon, authenticated, service_role;
grant select on table internal.share_link_tokens to service_role;

alter table public.share_links enable row level security;
create policy "Members see their children's share links" on public.share_links for select to authenticated
  using (child_id = any ((select access.member_child_ids('viewer'))::uuid[]));
create policy "Owners and caregivers revoke share links" on public.share_links for update to authenticated
  using (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]))
  with check (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]));
create policy "Owners delete share links" on public.share_links for delete to authenticated
  using (child_id = any ((select access.member_child_ids('owner'))::uuid[]));

revoke all on table public.share_links from public, anon, authenticated, service_role;
grant select, delete on table public.share_links to authenticated;
grant update (revoked_at) on table public.share_links to authenticated;
grant select, insert, update, delete on table public.share_links to service_role;

-- Revocation is for good: revoked_at is set once (to now) and never cleared.
create function internal.stamp_share_link_revocation() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if old.revoked_at is not null and new.revoked_at is distinct from old.revoked_at then
    raise exception 'revoked_at: a revoked link stays revoked; create a new one'
      using errcode = 'check_violation', column = 'revoked_at', table = 'share_links';
  end if;
  if old.revoked_at is null and new.revoked_at is not null then
    new.revoked_at := now();
  end if;
  return new;
end;
$$;
comment on function internal.stamp_share_link_revocation() is 'Trigger: a share link is revoked once, at the time of the update.';
create trigger share_links_revocation before update of revoked_at on public.share_links
  for each row execute function internal.stamp_share_link_revocation();
revoke execute on function internal.stamp_share_link_revocation() from public, anon, authenticated;

-- -----------------------------------------------------------------------------------------------------
-- rpc: create, open
-- -----------------------------------------------------------------------------------------------------
create function public.create_share_link(p_child_id uuid, p_report_id uuid default null, p_document_ids uuid[] default '{}',
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
  if not (p_child_id = any (access.member_child_ids('caregiver'))) then
    raise exception 'child_id: only an owner or caregiver of this child may share it' using errcode = '42501';
  end if;
  if p_valid_hours is null or p_valid_hours not between 1 and 2160 then
    raise exception 'valid_hours: must be between 1 and 2160 (90 days)' using errcode = '22023';
  end if;
  if p_report_id is not null and not exists (select 1 from public.reports r where r.id = p_report_id
                                               and r.child_id = p_child_id and r.status = 'ready') then
    raise exception 'report_id: no ready report of this child has the id %', p_report_id using errcode = 'P0002';
  end if;
  if (select count(*) from public.documents d where d.id = any (documents) and d.child_id = p_child_id) <> cardinality(documents) then
    raise exception 'document_ids: each must be a document of this child' using errcode = 'P0002';
  end if;
  if p_expert_id is not null and not exists (select 1 from public.experts e where e.id = p_expert_id and e.active and e.verified) then
    raise exception 'expert_id: no active, verified expert has the id %', p_expert_id using errcode = 'P0002';
  end if;
  insert into public.share_links (child_id, created_by, report_id, document_ids, expert_id, label, expires_at)
  values (p_child_id, auth.uid(), p_report_id, documents, p_expert_id, coalesce(p_label, ''),
          now() + make_interval(hours => p_valid_hours))
  returning * into link;
  insert into internal.share_link_tokens (share_link_id, token_hash) values (link.id, internal.token_hash(token));
  return jsonb_build_object('id', link.id, 'token', token, 'expires_at', link.expires_at);
end;
$$;
comment on function public.create_share_link(uuid, uuid, uuid[], uuid, integer, text) is
  'Owners and caregivers: share a ready report and/or documents of a child; returns {id, token, expires_at} (the '
  'token only here).';

-- The link of a token (locked), or the clear error a visitor gets.
create function internal.valid_share_link(p_token text) returns public.share_links
  language plpgsql
  set search_path = ''
as $$
declare
  link public.share_links;
begin
  select l.* into link from public.share_links l join internal.share_link_tokens t on t.share_link_id = l.id
   where t.token_hash = internal.token_hash(p_token);
  if not found then
    raise exception 'share_link: this link is not valid' using errcode = 'PT404';
  end if;
  if link.revoked_at is not null then
    raise exception 'share_link: this link was revoked by the family' using errcode = 'PT410';
  end if;
  if link.expires_at <= now() then
    raise exception 'share_link: this link expired on %', to_char(link.expires_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')
      using errcode = 'PT410';
  end if;
  return link;
end;
$$;
comment on function internal.valid_share_link(text) is
  'The share link of a token if it can be opened; else "not valid" (PT404), "revoked" or "expired" (PT410).';

-- Anyone with the token: exactly the link's scope, and the access counted.
create function public.open_share_link(p_token text) returns jsonb
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  link public.share_links := internal.valid_share_link(p_token);
begin
  update public.share_links set access_count = access_count + 1, last_accessed_at = now()
   where id = link.id returning * into link;
  return jsonb_build_object(
    'child', (select jsonb_build_object('name', c.name, 'age_months', internal.age_in_months(c.date_of_birth, c.timezone))
                from public.children c where c.id = link.child_id),
    'label', link.label,
    'expires_at', link.expires_at,
    'access_count', link.access_count,
    'report', (select jsonb_build_object('id', r.id, 'variant', r.variant, 'language', r.language, 'content', r.content,
                                         'created_at', r.created_at,
                                         'file', jsonb_build_object('bucket', 'child-reports', 'path', r.storage_path))
                 from public.reports r where r.id = link.report_id and r.status = 'ready'),
    'documents', coalesce((select jsonb_agg(jsonb_build_object(
                             'id', d.id, 'type', d.type, 'filename', d.filename, 'mime_type', d.mime_type,
                             'summary', d.analysis ->> 'summary',
                             'file', jsonb_build_object('bucket', 'child-documents', 'path', d.storage_path))
                           order by d.created_at)
                             from public.documents d where d.id = any (link.document_ids) and d.child_id = link.child_id), '[]'),
    'expert', (select jsonb_build_object('name', e.name, 'specialties', e.specialties, 'city', e.city)
                 from public.experts e where e.id = link.expert_id)
  );
end;
$$;
comment on function public.open_share_link(text) is
  'Anyone with a share link''s token (signed in or not): the shared report and documents (with their files'' '
  'Storage paths: sign them with the token in the x-share-token header), and the access counted. Revoked or '
  'expired: PT410; unknown: PT404.';

-- The policy of the links' files: the object belongs to the scope of the link whose token the Storage
-- request carries (header x-share-token), while that link is valid. Security definer: reads the links.
create function access.shared_object(p_bucket text, p_name text) returns boolean
  language plpgsql
  stable
  security definer
  set search_path = ''
as $$
declare
  token text := nullif(current_setting('request.headers', true), '')::jsonb ->> 'x-share-token';
  link public.share_links;
begin
  if token is null then
    return false;
  end if;
  select l.* into link from public.share_links l join internal.share_link_tokens t on t.share_link_id = l.id
   where t.token_hash = internal.token_hash(token) and l.revoked_at is null and l.expires_at > now();
  if not found then
    return false;
  end if;
  return (p_bucket = 'child-reports' and exists (select 1 from public.reports r where r.id = link.report_id
                                                    and r.child_id = link.child_id and r.storage_path = p_name))
      or (p_bucket = 'child-documents' and exists (select 1 from public.documents d where d.id = any (link.document_ids)
                                                      and d.child_id = link.child_id and d.storage_path = p_name));
end;
$$;
comment on function access.shared_object(text, text) is
  'Whether a Storage object is in the scope of the valid share link whose token the request carries (x-share-token).';

create policy "Share links open their files" on storage.objects for select to anon
  using (bucket_id in ('child-reports', 'child-documents') and access.shared_object(bucket_id, name));

revoke execute on function public.create_share_link(uuid, uuid, uuid[], uuid, integer, text),
  internal.valid_share_link(text), public.open_share_link(text), access.shared_object(text, text) from public, anon;
grant execute on function public.create_share_link(uuid, uuid, uuid[], uuid, integer, text) to authenticated, service_role;
grant execute on function public.open_share_link(text), access.shared_object(text, text) to anon, authenticated, service_role;
revoke execute on function internal.valid_share_link(text) from authenticated;
grant execute on function internal.valid_share_link(text) to service_role;
