-- =====================================================================================================
-- What the coach knows about a child: the child (age in months computed, never stored), the journey's
-- state, and what the family and the analyses have gathered. Replies in a conversation about a child
-- (internal.chat_reply_context) and analyses of a check-in about a child (internal.checkin_analysis_context)
-- get it, built for the conversation's (check-in's) user and only while that user is a member: removing
-- a member removes the child from their coach's context at the next reply.
-- =====================================================================================================

-- Whole months from a date of birth to today in the child's time zone.
create function internal.age_in_months(p_date_of_birth date, p_timezone text) returns integer
  language sql
  stable
  set search_path = ''
as $$
  select (extract(year from a) * 12 + extract(month from a))::integer
    from (select age((now() at time zone coalesce(p_timezone, 'UTC'))::date, p_date_of_birth) as a) x
$$;
comment on function internal.age_in_months(date, text) is 'Whole months from a date of birth to today in the child''s time zone.';

-- The child as a job about its files or reports sees it: no membership, no journal.
create function internal.child_brief(p_child_id uuid) returns jsonb
  language sql
  stable
  set search_path = ''
as $$
  select jsonb_build_object('name', c.name, 'age_months', internal.age_in_months(c.date_of_birth, c.timezone),
                            'sex', c.sex)
    from public.children c where c.id = p_child_id
$$;
comment on function internal.child_brief(uuid) is 'A child''s name, age in months and sex (for the analyses of its files).';

create function internal.child_context(p_user_id uuid, p_child_id uuid) returns jsonb
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  child public.children;
  member_role public.child_member_role;
begin
  if p_child_id is null then
    return null;
  end if;
  select m.role into member_role from public.child_members m where m.child_id = p_child_id and m.user_id = p_user_id;
  if not found then
    return null;  -- not (or no longer) a member: the coach does not see the child
  end if;
  select * into child from public.children c where c.id = p_child_id;
  return jsonb_build_object(
    'id', child.id,
    'name', child.name,
    'date_of_birth', child.date_of_birth,
    'age_months', internal.age_in_months(child.date_of_birth, child.timezone),
    'sex', child.sex,
    'notes', child.notes,
    'your_role', member_role,
    'journey', (select jsonb_build_object(
                  'stage', j.stage, 'progress', j.progress, 'milestones', j.milestones, 'artifacts', j.artifacts,
                  'deep_view', j.deep_view, 'started_at', j.started_at,
                  'context_cards', (select coalesce(jsonb_agg(c order by n), '[]') from (
                     select c, n from jsonb_array_elements(j.context_cards) with ordinality e(c, n)
                      order by n desc limit 10) latest))
                  from public.journeys j where j.child_id = child.id and j.completed_at is null),
    'journal', coalesce((select jsonb_agg(jsonb_build_object('date', e.entry_date, 'content', left(e.content, 1000),
                                                            'tags', e.tags) order by e.entry_date desc, e.created_at desc)
                           from (select * from public.journal_entries x where x.child_id = child.id
                                  order by x.entry_date desc, x.created_at desc limit 10) e), '[]'),
    'documents', coalesce((select jsonb_agg(jsonb_build_object('filename', d.filename, 'type', d.type, 'status', d.status,
                                                              'summary', d.analysis ->> 'summary',
                                                              'specialties', d.analysis -> 'specialties_to_consult')
                                            order by d.created_at desc)
                             from (select * from public.documents x where x.child_id = child.id
                                    order by x.created_at desc limit 10) d), '[]'),
    'videos', coalesce((select jsonb_agg(jsonb_build_object('scenario', v.scenario, 'title', v.title, 'status', v.status,
                                                           'summary', v.analysis ->> 'summary') order by v.created_at desc)
                          from (select * from public.videos x where x.child_id = child.id
                                 order by x.created_at desc limit 10) v), '[]'),
    'reports', coalesce((select jsonb_agg(jsonb_build_object('variant', r.variant, 'status', r.status,
                                                            'title', r.content ->> 'title', 'created_at', r.created_at)
                                          order by r.created_at desc)
                           from (select * from public.reports x where x.child_id = child.id
                                  order by x.created_at desc limit 3) r), '[]'),
    'expert_matches', coalesce((select jsonb_agg(jsonb_build_object('name', e.name, 'specialties', e.specialties,
                                                                   'city', e.city, 'status', m.status)
                                                 order by m.score desc)
                                  from (select * from public.expert_matches x where x.child_id = child.id
                                         order by x.score desc limit 5) m
                                  join public.experts e on e.id = m.expert_id), '[]')
  );
end;
$$;
comment on function internal.child_context(uuid, uuid) is
  'A child as the coach sees it, for a user who is a member (else null): the child with its age in months, '
  'the journey''s state, the latest journal entries, documents, videos and reports, and the suggested experts.';

revoke execute on function internal.age_in_months(date, text), internal.child_brief(uuid), internal.child_context(uuid, uuid)
  from public, anon, authenticated;
grant execute on function internal.age_in_months(date, text), internal.child_brief(uuid), internal.child_context(uuid, uuid)
  to service_role;
