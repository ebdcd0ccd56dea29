-- =====================================================================================================
-- The members of a child, by name: child_members holds user ids, and profiles are private to their owner
-- (they hold a birth date, preferences, ...). A family's app shows who shares the child ("Dana, owner;
-- Sam, caregiver"), so a member reads the other members' display names, and nothing else of their
-- profiles, through child_member_names(), for the children they share (the one membership helper).
-- =====================================================================================================

--   p_child_id  one child's members (null: the members of every child the caller shares)
-- Rows: child_id, user_id, role, display_name (null if they set none), accepted_at; owners first, then
-- caregivers and viewers, each by when they joined. A child the caller does not share gives no rows.
-- Security definer: it reads profiles the caller may not read, and returns only their display names.
create function public.child_member_names(p_child_id uuid default null)
  returns table (child_id uuid, user_id uuid, role public.child_member_role, display_name text, accepted_at timestamptz)
  language sql
  stable
  security definer
  set search_path = ''
as $$
  select m.child_id, m.user_id, m.role, p.display_name, m.accepted_at
    from public.child_members m
    left join public.profiles p on p.id = m.user_id
   where m.child_id = any (access.member_child_ids('viewer'))
     and (p_child_id is null or m.child_id = p_child_id)
   order by m.child_id, m.role, m.accepted_at, m.user_id
$$;
comment on function public.child_member_names(uuid) is
  'Signed-in users: the members of the children they share (p_child_id: of one) with their roles and display '
  'names, and nothing else of their profiles. Through access.member_child_ids, as every child-scoped read.';

revoke execute on function public.child_member_names(uuid) from public, anon;
grant execute on function public.child_member_names(uuid) to authenticated, service_role;
