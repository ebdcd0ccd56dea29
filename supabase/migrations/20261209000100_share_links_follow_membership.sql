-- =====================================================================================================
-- A share link speaks for the member who made it, and no longer than they may share: when that member
-- leaves the child (removed, or their account deleted) or becomes a viewer (who may not create links),
-- their links of that child are revoked with it, as if they had revoked them. The other members' links
-- stay. Before this, a removed caregiver's link kept opening the child's report and documents until it
-- expired (up to 30 days), though its maker could no longer see that it existed.
-- =====================================================================================================

-- Security definer: it revokes links the acting user (an owner removing a caregiver) may not update
-- themselves, and runs on a cascade from auth.users. A child being deleted takes its links with it:
-- nothing to revoke then.
create function internal.revoke_share_links_of_former_sharer() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  if exists (select 1 from public.children c where c.id = old.child_id) then
    update public.share_links l
       set revoked_at = now()
     where l.child_id = old.child_id and l.created_by = old.user_id and l.revoked_at is null;
  end if;
  return null;
end;
$$;
comment on function internal.revoke_share_links_of_former_sharer() is
  'Trigger: a member who leaves a child, or becomes a viewer, has their share links of that child revoked.';
revoke execute on function internal.revoke_share_links_of_former_sharer() from public, anon, authenticated;

create trigger child_members_revoke_share_links_on_removal after delete on public.child_members
  for each row execute function internal.revoke_share_links_of_former_sharer();
create trigger child_members_revoke_share_links_on_demotion after update of role on public.child_members
  for each row when (old.role <= 'caregiver' and new.role > 'caregiver')
  execute function internal.revoke_share_links_of_former_sharer();

-- The links' creator index serves the lookup above (share_links_created_by_idx).
comment on column public.share_links.revoked_at is
  'When it was revoked, for good: by a member (owner or caregiver), or when its creator left the child or '
  'became a viewer.';
