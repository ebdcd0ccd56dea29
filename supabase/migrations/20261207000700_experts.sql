-- =====================================================================================================
-- Experts and the matches suggested to a family.
--
--   experts         operator-managed (Studio): name, specialties, city and coordinates, rating and reviews,
--                   bio, languages, contact, verified, active. Signed-in users read the active, verified ones.
--   expert_matches  a child's suggested experts: score, reasons, distance, and the family's progress with each
--                   (suggested → contacted → scheduled → completed). Members read them; owners and
--                   caregivers move their status.
--   find_experts()  a caregiver asks, with where the family is; it queues the expert_matching job:
--     context  internal.expert_matching_context finds the candidates in SQL: active, verified experts within
--              the radius, ranked by how many of the specialties the child's analyses point to they cover,
--              then by distance, then by rating
--     worker   workers/kinds/expert_matching.py: the model ranks the candidates and says why
--              (record_expert_matches); no candidates, no model call
--     finish   internal.expert_matching_finish: the matches (only candidates, distance recomputed), and the
--              list as a journey artifact
-- Specialties are one vocabulary (internal.specialties()), shared with the analyses' output models
-- (workers/kinds/child_files.py; a test compares them).
-- =====================================================================================================

create function internal.specialties() returns text[]
  language sql
  immutable
  set search_path = ''
as $$
  select array['developmental_pediatrics', 'speech_language_therapy', 'occupational_therapy', 'physiotherapy',
               'child_psychology', 'child_psychiatry', 'pediatric_neurology', 'audiology', 'feeding_therapy',
               'sleep_consulting', 'special_education']
$$;
comment on function internal.specialties() is
  'The professions experts have and analyses point to (one vocabulary; workers/kinds/child_files.py Specialty).';

-- Great-circle distance in kilometres (haversine; the earth as a sphere of radius 6371 km).
create function internal.distance_km(p_lat1 double precision, p_lon1 double precision, p_lat2 double precision,
                                     p_lon2 double precision) returns double precision
  language sql
  immutable
  set search_path = ''
as $$
  select 2 * 6371 * asin(sqrt(power(sin(radians(p_lat2 - p_lat1) / 2), 2)
                              + cos(radians(p_lat1)) * cos(radians(p_lat2)) * power(sin(radians(p_lon2 - p_lon1) / 2), 2)))
$$;
comment on function internal.distance_km(double precision, double precision, double precision, double precision) is
  'Great-circle distance between two points in kilometres.';

create type public.expert_match_status as enum ('suggested', 'contacted', 'scheduled', 'completed');
comment on type public.expert_match_status is
  'suggested: proposed to the family; contacted: they got in touch; scheduled: a meeting is booked; completed: '
  'they met.';

-- -----------------------------------------------------------------------------------------------------
-- table: experts
-- -----------------------------------------------------------------------------------------------------
create table public.experts (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  specialties text[] not null,
  city text not null,
  latitude double precision not null,
  longitude double precision not null,
  rating numeric(2, 1),
  reviews_count integer not null default 0,
  bio text not null default '',
  languages text[] not null default '{}',
  contact jsonb not null default '{}',
  verified boolean not null default false,
  active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint experts_name_1_to_120_characters check (char_length(btrim(name)) between 1 and 120),
  constraint experts_specialties_known check (cardinality(specialties) between 1 and 10 and specialties <@ internal.specialties()),
  constraint experts_city_1_to_80_characters check (char_length(btrim(city)) between 1 and 80),
  constraint experts_latitude_valid check (latitude between -90 and 90),
  constraint experts_longitude_valid check (longitude between -180 and 180),
  constraint experts_rating_between_0_and_5 check (rating between 0 and 5),
  constraint experts_reviews_count_not_negative check (reviews_count >= 0),
  constraint experts_bio_at_most_4000_characters check (char_length(bio) <= 4000),
  constraint experts_languages_at_most_10 check (cardinality(languages) <= 10),
  constraint experts_contact_is_an_object check (jsonb_typeof(contact) = 'object')
);
comment on table public.experts is
  'Professionals families can be matched with, managed by operators in Studio. Signed-in users read the active, '
  'verified ones; the expert_matching job ranks them for a child.';
comment on column public.experts.id is 'Expert id.';
comment on column public.experts.name is 'Name and title, e.g. "Dr. Dana Levi".';
comment on column public.experts.specialties is 'One to ten of internal.specialties(), e.g. {speech_language_therapy}.';
comment on column public.experts.city is 'Where they practise.';
comment on column public.experts.latitude is 'Latitude of the practice (degrees).';
comment on column public.experts.longitude is 'Longitude of the practice (degrees).';
comment on column public.experts.rating is 'Average rating, 0.0 to 5.0; null: none yet.';
comment on column public.experts.reviews_count is 'How many reviews the rating is from.';
comment on column public.experts.bio is 'About them (at most 4,000 characters).';
comment on column public.experts.languages is 'Languages they work in (ISO 639-1), e.g. {he,en}.';
comment on column public.experts.contact is 'How to reach them: {"email", "phone", "website"}.';
comment on column public.experts.verified is 'Checked by an operator; only verified experts are shown and matched.';
comment on column public.experts.active is 'Off: hidden and never matched.';
comment on column public.experts.created_at is 'When they were added.';
comment on column public.experts.updated_at is 'When they last changed.';

create index experts_active_idx on public.experts (active, verified);
create index experts_specialties_idx on public.experts using gin (specialties);

alter table public.experts enable row level security;
create policy "Signed-in users read active, verified experts" on public.experts for select to authenticated
  using (active and verified);

revoke all on table public.experts from public, anon, authenticated, service_role;
grant select on table public.experts to authenticated;
grant select, insert, update, delete on table public.experts to service_role;

create trigger experts_set_updated_at before update on public.experts
  for each row execute function internal.set_updated_at();

-- -----------------------------------------------------------------------------------------------------
-- table: expert_matches
-- -----------------------------------------------------------------------------------------------------
create table public.expert_matches (
  id uuid primary key default gen_random_uuid(),
  child_id uuid not null references public.children (id) on delete cascade,
  expert_id uuid not null references public.experts (id) on delete cascade,
  score numeric(4, 3) not null,
  reasons text[] not null default '{}',
  distance_km numeric(7, 1),
  status public.expert_match_status not null default 'suggested',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint expert_matches_child_id_expert_id_key unique (child_id, expert_id),
  constraint expert_matches_score_between_0_and_1 check (score between 0 and 1),
  constraint expert_matches_reasons_at_most_5 check (cardinality(reasons) <= 5)
);
comment on table public.expert_matches is
  'Experts suggested for a child by the expert_matching job, and how far the family got with each. Members read '
  'them; owners and caregivers change the status or dismiss one.';
comment on column public.expert_matches.id is 'Match id.';
comment on column public.expert_matches.child_id is 'The child.';
comment on column public.expert_matches.expert_id is 'The expert.';
comment on column public.expert_matches.score is 'How well they fit, 0 to 1 (the model''s ranking).';
comment on column public.expert_matches.reasons is 'Why they fit, one to five short reasons for the family.';
comment on column public.expert_matches.distance_km is 'Distance from where the family searched, in km.';
comment on column public.expert_matches.status is 'suggested, contacted, scheduled or completed; see the type expert_match_status.';
comment on column public.expert_matches.created_at is 'When it was first suggested.';
comment on column public.expert_matches.updated_at is 'When it last changed.';

create index expert_matches_expert_id_idx on public.expert_matches (expert_id);

alter table public.expert_matches enable row level security;
create policy "Members read their children's expert matches" on public.expert_matches for select to authenticated
  using (child_id = any ((select access.member_child_ids('viewer'))::uuid[]));
create policy "Owners and caregivers track expert matches" on public.expert_matches for update to authenticated
  using (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]))
  with check (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]));
create policy "Owners and caregivers dismiss expert matches" on public.expert_matches for delete to authenticated
  using (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]));

revoke all on table public.expert_matches from public, anon, authenticated, service_role;
grant select, delete on table public.expert_matches to authenticated;
grant update (status) on table public.expert_matches to authenticated;
grant select, insert, update, delete on table public.expert_matches to service_role;

create trigger expert_matches_set_updated_at before update on public.expert_matches
  for each row execute function internal.set_updated_at();

alter publication supabase_realtime add table public.expert_matches;

-- -----------------------------------------------------------------------------------------------------
-- rpc: ask for matches
-- -----------------------------------------------------------------------------------------------------
create function public.find_experts(p_child_id uuid, p_latitude double precision, p_longitude double precision,
                                    p_radius_km integer default 30) returns jsonb
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  job_id bigint;
begin
  if not (p_child_id = any (access.member_child_ids('caregiver'))) then
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
comment on function public.find_experts(uuid, double precision, double precision, integer) is
  'Owners and caregivers: look for experts within p_radius_km of a place; the expert_matching job writes the '
  'child''s expert_matches (and they arrive over Realtime).';
revoke execute on function public.find_experts(uuid, double precision, double precision, integer) from public, anon;
grant execute on function public.find_experts(uuid, double precision, double precision, integer) to authenticated, service_role;

-- -----------------------------------------------------------------------------------------------------
-- job kind expert_matching
-- -----------------------------------------------------------------------------------------------------
-- The specialties a child's analyses point to (documents' and videos' specialties_to_consult).
create function internal.child_specialties(p_child_id uuid) returns text[]
  language sql
  stable
  set search_path = ''
as $$
  select coalesce(array_agg(distinct s order by s), '{}')
    from (select jsonb_array_elements_text(coalesce(d.analysis -> 'specialties_to_consult', '[]')) s
            from public.documents d where d.child_id = p_child_id and d.status = 'analyzed'
          union all
          select jsonb_array_elements_text(coalesce(v.analysis -> 'specialties_to_consult', '[]'))
            from public.videos v where v.child_id = p_child_id and v.status = 'analyzed') x
   where s = any (internal.specialties())
$$;

-- Candidates found in SQL: active, verified, within the radius; ranked by the specialties they cover,
-- then distance, then rating. With no specialty pointed to yet, every specialty counts.
create function internal.expert_candidates(p_child_id uuid, p_latitude double precision, p_longitude double precision,
                                           p_radius_km double precision, p_limit integer default 15) returns jsonb
  language sql
  stable
  set search_path = ''
as $$
  with wanted as (
    select coalesce(nullif(internal.child_specialties(p_child_id), '{}'), internal.specialties()) as specialties
  ), near as (
    select e.*, internal.distance_km(p_latitude, p_longitude, e.latitude, e.longitude) as km,
           cardinality(array(select unnest(e.specialties) intersect select unnest(w.specialties))) as covered
      from public.experts e, wanted w
     where e.active and e.verified and e.specialties && w.specialties
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', n.id, 'name', n.name, 'specialties', n.specialties, 'city', n.city,
           'distance_km', round(n.km::numeric, 1), 'rating', n.rating, 'reviews_count', n.reviews_count,
           'languages', n.languages, 'bio', left(n.bio, 500)) order by n.covered desc, n.km, n.rating desc nulls last), '[]')
    from (select * from near where km <= p_radius_km order by covered desc, km, rating desc nulls last limit p_limit) n
$$;

create function internal.expert_matching_context(p_job internal.jobs) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  target_child uuid := (p_job.payload ->> 'child_id')::uuid;
begin
  if not exists (select 1 from public.children c where c.id = target_child) then
    return jsonb_build_object('child', null, 'candidates', '[]'::jsonb);
  end if;
  return jsonb_build_object(
    'child', internal.child_brief(target_child) || jsonb_build_object('notes', (select c.notes from public.children c where c.id = target_child)),
    'specialties', to_jsonb(internal.child_specialties(target_child)),
    'findings', coalesce((select jsonb_agg(x.summary) from (
                   select d.analysis ->> 'summary' as summary from public.documents d where d.child_id = target_child and d.status = 'analyzed'
                   union all
                   select v.analysis ->> 'summary' from public.videos v where v.child_id = target_child and v.status = 'analyzed') x), '[]'),
    'candidates', internal.expert_candidates(target_child, (p_job.payload ->> 'latitude')::double precision,
                                             (p_job.payload ->> 'longitude')::double precision,
                                             (p_job.payload ->> 'radius_km')::double precision),
    'locale', coalesce((select p.locale from public.profiles p where p.id = (p_job.payload ->> 'user_id')::uuid), 'en'),
    'prompt', internal.resolve_prompt('expert_matching')
  );
end;
$$;
comment on function internal.expert_matching_context(internal.jobs) is
  'Job kind expert_matching: the child, the specialties its analyses point to, their summaries, the candidates '
  'found in SQL, the language, the prompt.';

-- p_output: {"matches": [{"expert_id", "score", "reasons": [...]}]}; an expert who is not a candidate (not
-- active and verified within the radius) is left out, whatever the model said.
create function internal.expert_matching_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  target_child uuid := (p_job.payload ->> 'child_id')::uuid;
  from_lat double precision := (p_job.payload ->> 'latitude')::double precision;
  from_lon double precision := (p_job.payload ->> 'longitude')::double precision;
  stored integer;
begin
  if jsonb_typeof(p_output -> 'matches') <> 'array' then
    raise exception 'expert_matching output: matches must be an array' using errcode = '22023';
  end if;
  if not exists (select 1 from public.children c where c.id = target_child) then
    return jsonb_build_object('subject_id', target_child, 'matches', 0);
  end if;
  with candidates as (
    select (c ->> 'id')::uuid as id from jsonb_array_elements(internal.expert_candidates(
      target_child, from_lat, from_lon, (p_job.payload ->> 'radius_km')::double precision, 1000)) c
  ), ranked as (
    select (m ->> 'expert_id')::uuid as expert_id, least(greatest((m ->> 'score')::numeric, 0), 1) as score,
           coalesce((select array_agg(left(r, 300)) from jsonb_array_elements_text(m -> 'reasons') r), '{}') as reasons
      from jsonb_array_elements(p_output -> 'matches') m
     where m ->> 'expert_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
  )
  insert into public.expert_matches (child_id, expert_id, score, reasons, distance_km)
  select target_child, r.expert_id, r.score, r.reasons[1:5],
         round(internal.distance_km(from_lat, from_lon, e.latitude, e.longitude)::numeric, 1)
    from ranked r
    join candidates c on c.id = r.expert_id
    join public.experts e on e.id = r.expert_id
  on conflict on constraint expert_matches_child_id_expert_id_key do update
     set score = excluded.score, reasons = excluded.reasons, distance_km = excluded.distance_km;
  get diagnostics stored = row_count;
  if stored > 0 and exists (select 1 from public.journeys j where j.child_id = target_child and j.completed_at is null) then
    perform internal.change_journey(target_child, jsonb_build_object('kind', 'artifact', 'artifact_kind', 'expert_matches',
                                    'title', 'Experts near you', 'status', 'ready'), 'worker', null, p_job.id);
  end if;
  return jsonb_build_object('subject_id', target_child, 'matches', stored);
end;
$$;
comment on function internal.expert_matching_finish(internal.jobs, jsonb, jsonb) is
  'Job kind expert_matching: store the ranked matches (candidates only); the list becomes a journey artifact.';

revoke execute on function internal.specialties(),
  internal.distance_km(double precision, double precision, double precision, double precision),
  internal.child_specialties(uuid),
  internal.expert_candidates(uuid, double precision, double precision, double precision, integer),
  internal.expert_matching_context(internal.jobs), internal.expert_matching_finish(internal.jobs, jsonb, jsonb)
  from public, anon, authenticated;
grant execute on function internal.specialties(),
  internal.distance_km(double precision, double precision, double precision, double precision),
  internal.child_specialties(uuid),
  internal.expert_candidates(uuid, double precision, double precision, double precision, integer),
  internal.expert_matching_context(internal.jobs), internal.expert_matching_finish(internal.jobs, jsonb, jsonb)
  to service_role;

insert into internal.prompt_kinds (name, description) values
  ('expert_matching', 'Ranks experts found near a family for their child (tool record_expert_matches).')
on conflict (name) do nothing;

insert into internal.job_kinds (name, description, prompt_kind, streams, context_function, finish_function, max_attempts,
                                metered)
values (
  'expert_matching',
  'Suggests experts for a child: candidates found in SQL by specialty and distance, ranked with reasons by the '
  'model, written to expert_matches.',
  'expert_matching', false,
  'internal.expert_matching_context(internal.jobs)', 'internal.expert_matching_finish(internal.jobs, jsonb, jsonb)', 3,
  true  -- an AI request the user asked for: counted against their limits (20261206000130_usage_limits)
);

insert into internal.prompts (name, kind, description) values
  ('expert_matching', 'expert_matching',
   'Ranks candidate experts for a child; answers through record_expert_matches. Placeholders: child, specialties, '
   'findings, candidates, locale.')
on conflict (name) do nothing;

insert into internal.prompt_versions (prompt_name, version, template, model, max_tokens, temperature, is_active, change_note)
values (
  'expert_matching', 1, $prompt$Help a family choose which professionals to contact about their child.

The child: {{child}}
Specialties the analyses point to: {{specialties}}
What the analyses found: {{findings}}

The candidates (found near the family, already ordered by the specialties they cover, then distance):
{{candidates}}

Call record_expert_matches with up to five of the candidates, best first: their expert_id exactly as given,
a score from 0 to 1, and one to three short reasons for the family in their language ({{locale}}) (which
need the expert's specialty fits, distance, languages, rating). Only candidates from the list.$prompt$,
  null, 1200, 0.20, true, 'First version.'
)
on conflict (prompt_name, version) do nothing;

insert into internal.prompt_assignments (kind, coach_id, prompt_name) values ('expert_matching', null, 'expert_matching')
on conflict (kind, coach_id) do nothing;
