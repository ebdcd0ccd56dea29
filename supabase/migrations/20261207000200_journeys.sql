-- =====================================================================================================
-- The child-development journey: its master state, the events that changed it, the family's journal,
-- and the journey coach who moves it on through tools.
--
-- One active journey per child (started with the child), holding the seed's master state: the stage
-- (interview → consultation → document_upload → video_instructions → video_upload → analysis →
-- report_ready → expert_search → meeting_prep → sharing), progress per area 0-100 (interview, videos,
-- documents, analysis), active artifacts, completed milestones, context cards and the deep view the
-- coach last opened — each validated in the database (internal.journey_state_problems, a check
-- constraint). Clients only read it (members, through access.member_child_ids): it changes only through
-- internal.change_journey, called by the coach's tools (update_journey_stage, add_context_card,
-- trigger_deep_view, update_progress, add_milestone) and by workers' finish functions. Every change is
-- a journey_events row; both tables are in the Realtime publication, so the app follows the coach (a
-- deep view opens when a deep_view_triggered event arrives).
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- types
-- -----------------------------------------------------------------------------------------------------
create type public.journey_stage as enum (
  'interview', 'consultation', 'document_upload', 'video_instructions', 'video_upload', 'analysis',
  'report_ready', 'expert_search', 'meeting_prep', 'sharing'
);
comment on type public.journey_stage is
  'Where the family is: interview (getting to know the child), consultation (talking through concerns), '
  'document_upload (existing reports and letters), video_instructions (how to film), video_upload, analysis '
  '(documents and videos being analysed), report_ready (a report to read), expert_search (finding '
  'professionals), meeting_prep (preparing a first meeting), sharing (sharing the report with professionals).';

create type public.journey_event_kind as enum (
  'started', 'stage_changed', 'progress_updated', 'context_card_added', 'deep_view_triggered', 'milestone_added',
  'artifact_updated'
);
comment on type public.journey_event_kind is
  'started: the journey began; stage_changed: {from, to, reason}; progress_updated: {area, from, to}; '
  'context_card_added: {card}; deep_view_triggered: {view, reason} (the app opens that view); milestone_added: '
  '{milestone}; artifact_updated: {artifact}.';

create type public.journey_event_source as enum ('coach', 'worker', 'system');
comment on type public.journey_event_source is
  'coach: a tool call of the journey coach (tool_call_id); worker: a job''s result (job_id); system: the database '
  'itself (the journey''s start).';

-- -----------------------------------------------------------------------------------------------------
-- the master state's rules (one place: the check constraint and the change function use them)
-- -----------------------------------------------------------------------------------------------------
create function internal.journey_state_problems(p_progress jsonb, p_artifacts jsonb, p_milestones jsonb,
                                                p_context_cards jsonb, p_deep_view jsonb) returns text[]
  language plpgsql
  immutable
  set search_path = ''
as $$
declare
  percent constant jsonb := '{"type": "integer", "minimum": 0, "maximum": 100}';
  problems text[];
begin
  problems := internal.json_schema_errors(jsonb_build_object(
      'type', 'object', 'additionalProperties', false, 'required', '["interview", "videos", "documents", "analysis"]'::jsonb,
      'properties', jsonb_build_object('interview', percent, 'videos', percent, 'documents', percent, 'analysis', percent)),
    p_progress, '$.progress')
  || internal.json_schema_errors($s${"type": "array", "maxItems": 50, "items": {"type": "object", "additionalProperties": false,
       "required": ["id", "kind", "title", "status", "updated_at"], "properties": {
       "id": {"type": "string", "minLength": 1, "maxLength": 100},
       "kind": {"type": "string", "enum": ["interview_summary", "video_guidelines", "document_analysis", "video_analysis",
                                           "report", "expert_matches", "meeting_prep"]},
       "title": {"type": "string", "minLength": 1, "maxLength": 200},
       "status": {"type": "string", "enum": ["pending", "ready"]},
       "ref_id": {"type": ["string", "null"], "format": "uuid"},
       "updated_at": {"type": "string", "format": "date-time"}}}}$s$, p_artifacts, '$.artifacts')
  || internal.json_schema_errors($s${"type": "array", "maxItems": 100, "items": {"type": "object", "additionalProperties": false,
       "required": ["key", "title", "achieved_at"], "properties": {
       "key": {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"},
       "title": {"type": "string", "minLength": 1, "maxLength": 200},
       "achieved_at": {"type": "string", "format": "date-time"}}}}$s$, p_milestones, '$.milestones')
  || internal.json_schema_errors($s${"type": "array", "maxItems": 50, "items": {"type": "object", "additionalProperties": false,
       "required": ["id", "kind", "title", "body", "created_at"], "properties": {
       "id": {"type": "string", "format": "uuid"},
       "kind": {"type": "string", "enum": ["insight", "next_step", "reminder", "question", "celebration"]},
       "title": {"type": "string", "minLength": 1, "maxLength": 120},
       "body": {"type": "string", "minLength": 1, "maxLength": 1000},
       "created_at": {"type": "string", "format": "date-time"}}}}$s$, p_context_cards, '$.context_cards')
  || internal.json_schema_errors($s${"type": ["object", "null"], "additionalProperties": false,
       "required": ["view", "triggered_at"], "properties": {
       "view": {"type": "string", "enum": ["child_profile", "interview_summary", "documents", "videos", "analysis",
                                           "report", "experts", "journal", "meeting_prep", "sharing"]},
       "reason": {"type": "string", "maxLength": 500},
       "triggered_at": {"type": "string", "format": "date-time"}}}$s$, coalesce(p_deep_view, 'null'), '$.deep_view');
  if jsonb_typeof(p_milestones) = 'array'
     and (select count(distinct m ->> 'key') from jsonb_array_elements(p_milestones) m) < jsonb_array_length(p_milestones) then
    problems := problems || '$.milestones: each key at most once'::text;
  end if;
  if jsonb_typeof(p_artifacts) = 'array'
     and (select count(distinct a ->> 'id') from jsonb_array_elements(p_artifacts) a) < jsonb_array_length(p_artifacts) then
    problems := problems || '$.artifacts: each id at most once'::text;
  end if;
  return problems;
end;
$$;
comment on function internal.journey_state_problems(jsonb, jsonb, jsonb, jsonb, jsonb) is
  'What is wrong with a journey''s master state (progress, artifacts, milestones, context cards, deep view): '
  'the rules of the journeys_state_is_valid constraint.';
revoke execute on function internal.journey_state_problems(jsonb, jsonb, jsonb, jsonb, jsonb) from public, anon, authenticated;
grant execute on function internal.journey_state_problems(jsonb, jsonb, jsonb, jsonb, jsonb) to service_role;

-- -----------------------------------------------------------------------------------------------------
-- table: journeys
-- -----------------------------------------------------------------------------------------------------
create table public.journeys (
  id uuid primary key default gen_random_uuid(),
  child_id uuid not null references public.children (id) on delete cascade,
  stage public.journey_stage not null default 'interview',
  progress jsonb not null default '{"interview": 0, "videos": 0, "documents": 0, "analysis": 0}',
  artifacts jsonb not null default '[]',
  milestones jsonb not null default '[]',
  context_cards jsonb not null default '[]',
  deep_view jsonb,
  started_at timestamptz not null default now(),
  last_activity_at timestamptz not null default now(),
  completed_at timestamptz,
  constraint journeys_id_child_id_key unique (id, child_id),
  constraint journeys_state_is_valid
    check (cardinality(internal.journey_state_problems(progress, artifacts, milestones, context_cards, deep_view)) = 0)
);
comment on table public.journeys is
  'A child''s development journey and its master state. Members read it; it changes only through the journey '
  'coach''s tools and workers (internal.change_journey), each change a journey_events row.';
comment on column public.journeys.id is 'Journey id.';
comment on column public.journeys.child_id is 'The child; one active (not completed) journey per child.';
comment on column public.journeys.stage is 'Where the family is; see the type journey_stage.';
comment on column public.journeys.progress is
  'Progress per area, 0 to 100: {"interview", "videos", "documents", "analysis"} (all four, whole numbers).';
comment on column public.journeys.artifacts is
  'What the journey produced and shows: [{id, kind, title, status pending|ready, ref_id, updated_at}], kinds '
  'interview_summary, video_guidelines, document_analysis, video_analysis, report, expert_matches, meeting_prep.';
comment on column public.journeys.milestones is 'Completed milestones: [{key, title, achieved_at}], each key once.';
comment on column public.journeys.context_cards is
  'Cards the coach put beside the chat: [{id, kind insight|next_step|reminder|question|celebration, title, body, '
  'created_at}], newest last, at most 50.';
comment on column public.journeys.deep_view is
  'The view the coach last opened for the family: {view, reason, triggered_at}; null: none yet.';
comment on column public.journeys.started_at is 'When the journey began (with the child).';
comment on column public.journeys.last_activity_at is 'When its state last changed.';
comment on column public.journeys.completed_at is 'When it ended; null while active.';

create unique index journeys_one_active_per_child on public.journeys (child_id) where completed_at is null;
create index journeys_child_id_idx on public.journeys (child_id, started_at desc);

alter table public.journeys enable row level security;
create policy "Members read their children's journeys" on public.journeys for select to authenticated
  using (child_id = any ((select access.member_child_ids('viewer'))::uuid[]));

revoke all on table public.journeys from public, anon, authenticated, service_role;
grant select on table public.journeys to authenticated;
grant select, insert, update on table public.journeys to service_role;

-- -----------------------------------------------------------------------------------------------------
-- table: journey_events
-- -----------------------------------------------------------------------------------------------------
create table public.journey_events (
  id bigint generated always as identity primary key,
  journey_id uuid not null,
  child_id uuid not null,
  kind public.journey_event_kind not null,
  data jsonb not null default '{}',
  source public.journey_event_source not null,
  tool_call_id uuid references public.tool_calls (id) on delete set null,
  job_id bigint,
  created_at timestamptz not null default now(),
  constraint journey_events_journey_fkey foreign key (journey_id, child_id)
    references public.journeys (id, child_id) on delete cascade,
  constraint journey_events_data_is_an_object check (jsonb_typeof(data) = 'object')
);
comment on table public.journey_events is
  'Every change of a journey''s state, in order: what changed, and who changed it (the coach''s tool call or a '
  'job). Members read them; in the Realtime publication, so the app follows the coach.';
comment on column public.journey_events.id is 'Event number, increasing.';
comment on column public.journey_events.journey_id is 'The journey.';
comment on column public.journey_events.child_id is 'The journey''s child (for RLS and Realtime filters).';
comment on column public.journey_events.kind is 'What changed; see the type journey_event_kind for each kind''s data.';
comment on column public.journey_events.data is 'The change, e.g. {"from": "interview", "to": "consultation", "reason": ...}.';
comment on column public.journey_events.source is 'coach, worker or system; see the type journey_event_source.';
comment on column public.journey_events.tool_call_id is 'The coach''s tool call that made the change (source coach).';
comment on column public.journey_events.job_id is 'The job whose result made the change (source worker).';
comment on column public.journey_events.created_at is 'When it happened.';

create index journey_events_child_id_idx on public.journey_events (child_id, id);
create index journey_events_journey_id_idx on public.journey_events (journey_id, child_id);
create index journey_events_tool_call_id_idx on public.journey_events (tool_call_id);

alter table public.journey_events enable row level security;
create policy "Members read their children's journey events" on public.journey_events for select to authenticated
  using (child_id = any ((select access.member_child_ids('viewer'))::uuid[]));

revoke all on table public.journey_events from public, anon, authenticated, service_role;
grant select on table public.journey_events to authenticated;
grant select, insert on table public.journey_events to service_role;

alter publication supabase_realtime add table public.journeys, public.journey_events;

-- -----------------------------------------------------------------------------------------------------
-- the one way a journey changes
-- -----------------------------------------------------------------------------------------------------
-- p_change: {"kind": "stage", "stage", "reason"} | {"kind": "progress", "area", "value"}
--         | {"kind": "context_card", "card_kind", "title", "body"} | {"kind": "deep_view", "view", "reason"}
--         | {"kind": "milestone", "key", "title"} | {"kind": "artifact", "artifact_kind", "title", "status", "ref_id"}
-- Returns {"journey": the state after, "event_id": the event (null when nothing changed: a milestone
-- reached before, the same stage or progress)}. A state the rules refuse raises with the rule broken.
create function internal.change_journey(p_child_id uuid, p_change jsonb, p_source public.journey_event_source,
                                        p_tool_call_id uuid default null, p_job_id bigint default null) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  journey public.journeys;
  before public.journeys;
  kind public.journey_event_kind;
  data jsonb;
  item jsonb;
  event_id bigint;
  stamp text := to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
begin
  select * into journey from public.journeys j where j.child_id = p_child_id and j.completed_at is null for update;
  if not found then
    raise exception 'child_id: the child has no active journey' using errcode = 'P0002';
  end if;
  before := journey;
  case p_change ->> 'kind'
    when 'stage' then
      journey.stage := (p_change ->> 'stage')::public.journey_stage;
      kind := 'stage_changed';
      data := jsonb_build_object('from', before.stage, 'to', journey.stage, 'reason', coalesce(p_change ->> 'reason', ''));
    when 'progress' then
      if not (p_change ->> 'area') in ('interview', 'videos', 'documents', 'analysis') then
        raise exception 'area: must be interview, videos, documents or analysis' using errcode = '22023';
      end if;
      journey.progress := jsonb_set(journey.progress, array[p_change ->> 'area'], p_change -> 'value');
      kind := 'progress_updated';
      data := jsonb_build_object('area', p_change ->> 'area', 'from', before.progress -> (p_change ->> 'area'),
                                 'to', p_change -> 'value');
    when 'context_card' then
      item := jsonb_build_object('id', gen_random_uuid(), 'kind', coalesce(p_change ->> 'card_kind', 'insight'),
                                 'title', btrim(p_change ->> 'title'), 'body', btrim(p_change ->> 'body'), 'created_at', stamp);
      -- The newest 50 are kept.
      journey.context_cards := (select coalesce(jsonb_agg(c order by n), '[]') from (
        select c, n from jsonb_array_elements(journey.context_cards || jsonb_build_array(item)) with ordinality e(c, n)
         order by n desc limit 50) kept);
      kind := 'context_card_added';
      data := jsonb_build_object('card', item);
    when 'deep_view' then
      journey.deep_view := jsonb_build_object('view', p_change ->> 'view', 'reason', coalesce(p_change ->> 'reason', ''),
                                              'triggered_at', stamp);
      kind := 'deep_view_triggered';
      data := journey.deep_view;
    when 'milestone' then
      if exists (select 1 from jsonb_array_elements(journey.milestones) m where m ->> 'key' = p_change ->> 'key') then
        return jsonb_build_object('journey', to_jsonb(journey), 'event_id', null);
      end if;
      item := jsonb_build_object('key', p_change ->> 'key', 'title', btrim(p_change ->> 'title'), 'achieved_at', stamp);
      journey.milestones := journey.milestones || jsonb_build_array(item);
      kind := 'milestone_added';
      data := jsonb_build_object('milestone', item);
    when 'artifact' then
      item := jsonb_strip_nulls(jsonb_build_object(
        'id', (p_change ->> 'artifact_kind') || coalesce(':' || (p_change ->> 'ref_id'), ''),
        'kind', p_change ->> 'artifact_kind', 'title', btrim(p_change ->> 'title'),
        'status', coalesce(p_change ->> 'status', 'ready'), 'ref_id', p_change ->> 'ref_id', 'updated_at', stamp));
      journey.artifacts := (select coalesce(jsonb_agg(a), '[]') from jsonb_array_elements(journey.artifacts) a
                             where a ->> 'id' <> item ->> 'id') || jsonb_build_array(item);
      kind := 'artifact_updated';
      data := jsonb_build_object('artifact', item);
    else
      raise exception 'change: unknown kind %', coalesce(p_change ->> 'kind', 'null') using errcode = '22023';
  end case;
  if (kind = 'stage_changed' and journey.stage = before.stage)
     or (kind = 'progress_updated' and journey.progress = before.progress) then
    return jsonb_build_object('journey', to_jsonb(journey), 'event_id', null);
  end if;
  if cardinality(internal.journey_state_problems(journey.progress, journey.artifacts, journey.milestones,
                                                 journey.context_cards, journey.deep_view)) > 0 then
    raise exception '%', array_to_string(internal.journey_state_problems(journey.progress, journey.artifacts,
                                         journey.milestones, journey.context_cards, journey.deep_view), '; ')
      using errcode = '23514';
  end if;
  update public.journeys
     set stage = journey.stage, progress = journey.progress, artifacts = journey.artifacts,
         milestones = journey.milestones, context_cards = journey.context_cards, deep_view = journey.deep_view,
         last_activity_at = now()
   where id = journey.id
  returning * into journey;
  insert into public.journey_events (journey_id, child_id, kind, data, source, tool_call_id, job_id)
  values (journey.id, journey.child_id, kind, data, p_source, p_tool_call_id, p_job_id)
  returning id into event_id;
  return jsonb_build_object('journey', to_jsonb(journey), 'event_id', event_id);
end;
$$;
comment on function internal.change_journey(uuid, jsonb, public.journey_event_source, uuid, bigint) is
  'The one way a journey''s state changes (the coach''s tools, workers): apply one change to the child''s active '
  'journey, validate the state, record the event. Returns {journey, event_id}.';
revoke execute on function internal.change_journey(uuid, jsonb, public.journey_event_source, uuid, bigint)
  from public, anon, authenticated;
grant execute on function internal.change_journey(uuid, jsonb, public.journey_event_source, uuid, bigint) to service_role;

-- A child starts its journey when it is added.
create function internal.start_journey() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  journey_id uuid;
begin
  insert into public.journeys (child_id) values (new.id) returning id into journey_id;
  insert into public.journey_events (journey_id, child_id, kind, data, source)
  values (journey_id, new.id, 'started', jsonb_build_object('stage', 'interview'), 'system');
  return null;
end;
$$;
comment on function internal.start_journey() is 'Trigger: a new child starts its journey at the interview stage.';
create trigger children_start_journey after insert on public.children
  for each row execute function internal.start_journey();
revoke execute on function internal.start_journey() from public, anon, authenticated;

-- -----------------------------------------------------------------------------------------------------
-- table: journal_entries
-- -----------------------------------------------------------------------------------------------------
create table public.journal_entries (
  id uuid primary key default gen_random_uuid(),
  child_id uuid not null references public.children (id) on delete cascade,
  author_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  entry_date date not null default current_date,
  content text not null,
  tags text[] not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint journal_entries_content_1_to_8000_characters check (char_length(btrim(content)) between 1 and 8000),
  constraint journal_entries_tags_at_most_20 check (cardinality(tags) <= 20)
);
comment on table public.journal_entries is
  'The family''s journal about a child: what happened, written by owners and caregivers, read by every member; '
  'the coach and the reports read it too.';
comment on column public.journal_entries.id is 'Entry id.';
comment on column public.journal_entries.child_id is 'The child.';
comment on column public.journal_entries.author_id is 'Who wrote it (defaults to the caller).';
comment on column public.journal_entries.entry_date is 'The day it is about (defaults to today).';
comment on column public.journal_entries.content is 'What happened, 1 to 8,000 characters.';
comment on column public.journal_entries.tags is 'Up to 20 tags of 1 to 40 characters, e.g. {"speech", "sleep"}.';
comment on column public.journal_entries.created_at is 'When it was written.';
comment on column public.journal_entries.updated_at is 'When it last changed.';

create index journal_entries_child_id_entry_date_idx on public.journal_entries (child_id, entry_date desc, created_at desc);
create index journal_entries_author_id_idx on public.journal_entries (author_id);

alter table public.journal_entries enable row level security;
create policy "Members read their children's journal" on public.journal_entries for select to authenticated
  using (child_id = any ((select access.member_child_ids('viewer'))::uuid[]));
create policy "Owners and caregivers write in the journal" on public.journal_entries for insert to authenticated
  with check (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]) and author_id = (select auth.uid()));
create policy "Authors edit their entries while they care for the child" on public.journal_entries for update to authenticated
  using (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]) and author_id = (select auth.uid()))
  with check (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]) and author_id = (select auth.uid()));
create policy "Authors and owners delete entries" on public.journal_entries for delete to authenticated
  using (child_id = any ((select access.member_child_ids('owner'))::uuid[])
         or (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]) and author_id = (select auth.uid())));

revoke all on table public.journal_entries from public, anon, authenticated, service_role;
grant select, delete on table public.journal_entries to authenticated;
grant insert (id, child_id, author_id, entry_date, content, tags) on table public.journal_entries to authenticated;
grant update (entry_date, content, tags) on table public.journal_entries to authenticated;
grant select, insert, update, delete on table public.journal_entries to service_role;

-- Tags are 1..40 characters each (a check constraint cannot look inside an array); updated_at.
create function internal.stamp_journal_entry() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if exists (select 1 from unnest(new.tags) t where char_length(btrim(t)) not between 1 and 40) then
    raise exception 'tags: each tag must be 1 to 40 characters'
      using errcode = 'check_violation', column = 'tags', table = 'journal_entries',
            constraint = 'journal_entries_tags_1_to_40_characters';
  end if;
  new.updated_at := now();
  return new;
end;
$$;
comment on function internal.stamp_journal_entry() is 'Trigger: each journal tag is 1 to 40 characters; updated_at on every change.';
create trigger journal_entries_stamp before insert or update on public.journal_entries
  for each row execute function internal.stamp_journal_entry();
revoke execute on function internal.stamp_journal_entry() from public, anon, authenticated;

alter publication supabase_realtime add table public.journal_entries;

-- -----------------------------------------------------------------------------------------------------
-- tools: the journey coach moves the journey on. Security definer (users may not write journeys), each
-- checks with the policies' helper that the conversation's user cares for the conversation's child.
-- -----------------------------------------------------------------------------------------------------
create function tools.journey_child(p_ctx jsonb) returns uuid
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  child uuid;
begin
  select c.child_id into child from public.conversations c
   where c.id = (p_ctx ->> 'conversation_id')::uuid and c.user_id = (select auth.uid());
  if child is null then
    raise exception 'conversation: this conversation is not about a child, so there is no journey to change'
      using errcode = 'P0002';
  end if;
  if not (child = any (access.member_child_ids('caregiver'))) then
    raise exception 'child: the person you are talking with can no longer change this child''s journey (not an owner or caregiver)'
      using errcode = '42501';
  end if;
  return child;
end;
$$;
comment on function tools.journey_child(jsonb) is
  'The child of the tool call''s conversation, refused unless the conversation''s user is its owner or caregiver.';

create function tools.journey_change(p_ctx jsonb, p_change jsonb) returns jsonb
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  outcome jsonb := internal.change_journey(tools.journey_child(p_ctx), p_change, 'coach',
                                           (p_ctx ->> 'tool_call_id')::uuid, (p_ctx ->> 'job_id')::bigint);
  journey jsonb := outcome -> 'journey';
begin
  return jsonb_build_object(
    'result', jsonb_build_object(
      'changed', outcome -> 'event_id' <> 'null'::jsonb,
      'journey', jsonb_build_object('stage', journey -> 'stage', 'progress', journey -> 'progress',
                                    'milestones', (select coalesce(jsonb_agg(m -> 'key'), '[]') from jsonb_array_elements(journey -> 'milestones') m),
                                    'context_cards', jsonb_array_length(journey -> 'context_cards'),
                                    'deep_view', journey -> 'deep_view')),
    'changes', case when outcome -> 'event_id' = 'null'::jsonb then '[]'::jsonb else jsonb_build_array(
      jsonb_build_object('table', 'journeys', 'id', journey -> 'id', 'action', 'update'),
      jsonb_build_object('table', 'journey_events', 'id', outcome -> 'event_id', 'action', 'insert')) end);
end;
$$;
comment on function tools.journey_change(jsonb, jsonb) is 'The journey tools'' common part: apply a change for the coach, as a tool result.';

create function tools.update_journey_stage(p_ctx jsonb, p_input jsonb) returns jsonb
  language sql
  security definer
  set search_path = ''
as $$
  select tools.journey_change(p_ctx, jsonb_build_object('kind', 'stage', 'stage', p_input ->> 'stage', 'reason', p_input ->> 'reason'))
$$;

create function tools.update_progress(p_ctx jsonb, p_input jsonb) returns jsonb
  language sql
  security definer
  set search_path = ''
as $$
  select tools.journey_change(p_ctx, jsonb_build_object('kind', 'progress', 'area', p_input ->> 'area', 'value', p_input -> 'value'))
$$;

create function tools.add_context_card(p_ctx jsonb, p_input jsonb) returns jsonb
  language sql
  security definer
  set search_path = ''
as $$
  select tools.journey_change(p_ctx, jsonb_build_object('kind', 'context_card', 'card_kind', coalesce(p_input ->> 'kind', 'insight'),
                                                        'title', p_input ->> 'title', 'body', p_input ->> 'body'))
$$;

create function tools.trigger_deep_view(p_ctx jsonb, p_input jsonb) returns jsonb
  language sql
  security definer
  set search_path = ''
as $$
  select tools.journey_change(p_ctx, jsonb_build_object('kind', 'deep_view', 'view', p_input ->> 'view', 'reason', p_input ->> 'reason'))
$$;

create function tools.add_milestone(p_ctx jsonb, p_input jsonb) returns jsonb
  language sql
  security definer
  set search_path = ''
as $$
  select tools.journey_change(p_ctx, jsonb_build_object('kind', 'milestone', 'key', p_input ->> 'key', 'title', p_input ->> 'title'))
$$;

revoke execute on function tools.journey_child(jsonb), tools.journey_change(jsonb, jsonb),
  tools.update_journey_stage(jsonb, jsonb), tools.update_progress(jsonb, jsonb), tools.add_context_card(jsonb, jsonb),
  tools.trigger_deep_view(jsonb, jsonb), tools.add_milestone(jsonb, jsonb) from public, anon;
grant execute on function tools.journey_child(jsonb), tools.journey_change(jsonb, jsonb),
  tools.update_journey_stage(jsonb, jsonb), tools.update_progress(jsonb, jsonb), tools.add_context_card(jsonb, jsonb),
  tools.trigger_deep_view(jsonb, jsonb), tools.add_milestone(jsonb, jsonb) to authenticated, service_role;

insert into internal.tools (name, description, input_schema, function) values
('update_journey_stage',
 'Move the family''s journey to another stage when they are ready for it (the app follows): interview, consultation, '
 'document_upload, video_instructions, video_upload, analysis, report_ready, expert_search, meeting_prep, sharing.',
 $json${"type": "object", "additionalProperties": false, "required": ["stage"], "properties": {
   "stage": {"type": "string", "enum": ["interview", "consultation", "document_upload", "video_instructions", "video_upload",
                                        "analysis", "report_ready", "expert_search", "meeting_prep", "sharing"]},
   "reason": {"type": "string", "maxLength": 500, "description": "Why now, in a sentence (shown in the journey's history)."}}}$json$,
 'tools.update_journey_stage(jsonb, jsonb)'),
('update_progress',
 'Set how far an area of the journey has come, 0 to 100: interview (what you have learnt about the child), videos, '
 'documents, analysis.',
 $json${"type": "object", "additionalProperties": false, "required": ["area", "value"], "properties": {
   "area": {"type": "string", "enum": ["interview", "videos", "documents", "analysis"]},
   "value": {"type": "integer", "minimum": 0, "maximum": 100}}}$json$,
 'tools.update_progress(jsonb, jsonb)'),
('add_context_card',
 'Put a short card beside the chat for the family to keep: an insight, a next step, a reminder, a question to think '
 'about, or something to celebrate. In their language.',
 $json${"type": "object", "additionalProperties": false, "required": ["title", "body"], "properties": {
   "kind": {"type": "string", "enum": ["insight", "next_step", "reminder", "question", "celebration"]},
   "title": {"type": "string", "minLength": 1, "maxLength": 120},
   "body": {"type": "string", "minLength": 1, "maxLength": 1000}}}$json$,
 'tools.add_context_card(jsonb, jsonb)'),
('trigger_deep_view',
 'Open a view of the app for the family right now: child_profile, interview_summary, documents, videos, analysis, '
 'report, experts, journal, meeting_prep or sharing (e.g. the video instructions when it is time to film).',
 $json${"type": "object", "additionalProperties": false, "required": ["view"], "properties": {
   "view": {"type": "string", "enum": ["child_profile", "interview_summary", "documents", "videos", "analysis", "report",
                                       "experts", "journal", "meeting_prep", "sharing"]},
   "reason": {"type": "string", "maxLength": 500}}}$json$,
 'tools.trigger_deep_view(jsonb, jsonb)'),
('add_milestone',
 'Record a milestone the family reached on the journey (once per key), e.g. interview_completed, first_video_uploaded.',
 $json${"type": "object", "additionalProperties": false, "required": ["key", "title"], "properties": {
   "key": {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"},
   "title": {"type": "string", "minLength": 1, "maxLength": 200}}}$json$,
 'tools.add_milestone(jsonb, jsonb)')
on conflict (name) do nothing;

-- -----------------------------------------------------------------------------------------------------
-- the journey coach: Lior, her persona and reply prompt, and her tools
-- -----------------------------------------------------------------------------------------------------
insert into public.coaches (slug, name, description, intro, avatar_path, sort_order) values (
  'lior',
  'Lior',
  'Warm, patient and clear. Lior walks parents through their child''s development journey: getting to know the '
  'child, gathering documents and short videos, understanding what they show, and finding the right '
  'professionals. Lior never diagnoses, and speaks the family''s language.',
  'Hi, I''m Lior. I''m here to walk with you through your child''s development journey, one step at a time. '
  'Tell me about your child: what do they love, and what made you want to look more closely?',
  'coaches/lior.png',
  50
)
on conflict (slug) do nothing;

insert into internal.prompts (name, kind, description) values
  ('persona.lior', 'coach_persona', 'Who Lior is: voice and approach. Inserted into chat_reply.journey as {{coach_persona}}.'),
  ('chat_reply.journey', 'chat_reply',
   'System prompt of the journey coach''s replies, with the journey tools. Placeholders: coach_name, coach_persona, '
   'display_name, locale, child (the child, age in months and the journey''s state), user_summary, '
   'conversation_summary, today, timezone.')
on conflict (name) do nothing;

insert into internal.prompt_versions (prompt_name, version, template, model, max_tokens, temperature, is_active, change_note)
values
(
  'persona.lior', 1, $prompt$You are Lior: warm, patient and clear. You accompany parents through their child's development journey.
You are curious about the child as a whole person (what they love, how they play, eat, sleep and connect)
before you look at any difficulty. You name what parents do well, you take their worries seriously without
feeding fear, and you explain things in plain words. You move at the family's pace.$prompt$, null, 400, 0.50, true, 'First version.'
),
(
  'chat_reply.journey', 1, $prompt$You are {{coach_name}}, the guide in a child-development journey app.

# Who you are
{{coach_persona}}

# How you work
- Speak the family's language: answer in the language of their last message (Hebrew, Arabic, English, ...),
  else in the language of their profile below. Keep the child's name as they write it.
- Empathy first: acknowledge feelings in a sentence before information or next steps. One question at a time.
- You never diagnose, label or predict. Do not name conditions as the child's (no "she has autism", "he is
  delayed"). Describe what was observed, what is typical at this age in general terms, and which professional
  could look more closely. Medication, therapy plans and diagnoses belong to professionals.
- The journey has stages: interview, consultation, document_upload, video_instructions, video_upload, analysis,
  report_ready, expert_search, meeting_prep, sharing. You move it with your tools, never by describing it:
  update_journey_stage when the family is ready for the next step, update_progress as you learn about an area,
  add_milestone when they complete something, add_context_card for something worth keeping beside the chat,
  trigger_deep_view to open the part of the app they need now (e.g. the video instructions).
- Use only what is in the child's data below and what the family tells you; never invent observations.
- If a tool returns an error, read it and correct the call once, or tell the family plainly.

# Safety comes first
If the family describes a child in danger, abuse, a medical emergency (trouble breathing, choking, dehydration,
a serious allergic reaction, a seizure), or a caregiver at risk of harming themselves or the child, stop the
journey: tell them clearly to contact local emergency services now, with care, and do not continue as usual.

# The child and the journey
{{child}}

# What you know about {{display_name}}
Profile language: {{locale}}
What you remember: {{user_summary}}
Earlier in this conversation: {{conversation_summary}}

Today is {{today}} ({{timezone}}).$prompt$, null, 1024, 0.50, true, 'First version.'
)
on conflict (prompt_name, version) do nothing;

insert into internal.prompt_assignments (kind, coach_id, prompt_name)
select a.kind, c.id, a.prompt_name
  from (values ('coach_persona', 'persona.lior'), ('chat_reply', 'chat_reply.journey')) as a(kind, prompt_name)
  cross join public.coaches c
 where c.slug = 'lior'
on conflict (kind, coach_id) do nothing;

insert into internal.coach_tools (coach_id, tool_name)
select c.id, t.name from public.coaches c cross join internal.tools t
 where c.slug = 'lior' and t.name in ('update_journey_stage', 'update_progress', 'add_context_card', 'trigger_deep_view',
                                      'add_milestone')
on conflict do nothing;
