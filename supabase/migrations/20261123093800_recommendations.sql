-- =====================================================================================================
-- recommendations: concrete next steps the coach suggests, usually after a check-in analysis. Workers
-- write them; the owner reads them and changes only their status.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- types
-- -----------------------------------------------------------------------------------------------------
create type public.recommendation_status as enum ('new', 'accepted', 'dismissed', 'done');
comment on type public.recommendation_status is
  'new: not yet seen or acted on; accepted: the user will try it; dismissed: the user declined it; '
  'done: the user did it.';

create type public.recommendation_source as enum ('checkin', 'conversation', 'operator');
comment on type public.recommendation_source is
  'Where a recommendation came from. checkin: a check-in analysis; conversation: a chat with the coach; '
  'operator: added by the team (e.g. a programme step).';

-- -----------------------------------------------------------------------------------------------------
-- table
-- -----------------------------------------------------------------------------------------------------
create table public.recommendations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  checkin_id uuid,
  category_id uuid references public.categories (id) on delete set null,
  title text not null,
  body text not null default '',
  why text not null default '',
  how text not null default '',
  importance smallint not null default 3,
  status public.recommendation_status not null default 'new',
  source public.recommendation_source not null default 'checkin',
  model text,
  prompt_version text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- The check-in belongs to the same user.
  constraint recommendations_checkin_fkey foreign key (checkin_id, user_id)
    references public.checkins (id, user_id) on delete set null (checkin_id),
  constraint recommendations_title_1_to_200_characters check (char_length(btrim(title)) between 1 and 200),
  constraint recommendations_body_at_most_4000_characters check (char_length(body) <= 4000),
  constraint recommendations_why_at_most_2000_characters check (char_length(why) <= 2000),
  constraint recommendations_how_at_most_2000_characters check (char_length(how) <= 2000),
  constraint recommendations_importance_between_1_and_5 check (importance between 1 and 5)
);

comment on table public.recommendations is
  'Next steps the coach suggests. Workers write them; the owner reads them and changes only status.';
comment on column public.recommendations.id is 'Recommendation id.';
comment on column public.recommendations.user_id is 'The user the recommendation is for.';
comment on column public.recommendations.checkin_id is 'The check-in whose analysis produced it, if any.';
comment on column public.recommendations.category_id is 'The category it helps with, if any.';
comment on column public.recommendations.title is 'Short imperative title, e.g. "Take a 10-minute walk after lunch".';
comment on column public.recommendations.body is 'What to do, in a few sentences.';
comment on column public.recommendations.why is 'Why it helps this user, tied to what they shared.';
comment on column public.recommendations.how is 'How to start: the first small step.';
comment on column public.recommendations.importance is 'From 1 (nice to have) to 5 (most important); set by the coach only.';
comment on column public.recommendations.status is 'new, accepted, dismissed or done; the only column the user changes.';
comment on column public.recommendations.source is 'checkin, conversation or operator; see the type recommendation_source.';
comment on column public.recommendations.model is 'The model that wrote it (null for operator-written ones).';
comment on column public.recommendations.prompt_version is 'Prompt template version used, <name>@v<version>.';
comment on column public.recommendations.created_at is 'When it was suggested.';
comment on column public.recommendations.updated_at is 'When it last changed (e.g. its status).';

-- -----------------------------------------------------------------------------------------------------
-- indexes
-- -----------------------------------------------------------------------------------------------------
create index recommendations_user_id_status_created_at_idx
  on public.recommendations (user_id, status, created_at desc);
create index recommendations_checkin_id_idx on public.recommendations (checkin_id);
create index recommendations_category_id_idx on public.recommendations (category_id);
-- A user never has two open recommendations with the same title.
create unique index recommendations_open_title_key
  on public.recommendations (user_id, lower(btrim(title)))
  where status in ('new', 'accepted');

-- -----------------------------------------------------------------------------------------------------
-- rls
-- -----------------------------------------------------------------------------------------------------
alter table public.recommendations enable row level security;

create policy "Users read their own recommendations"
  on public.recommendations for select to authenticated
  using (user_id = (select auth.uid()));

create policy "Users update the status of their own recommendations"
  on public.recommendations for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

-- -----------------------------------------------------------------------------------------------------
-- grants: the user changes status only.
-- -----------------------------------------------------------------------------------------------------
revoke all on table public.recommendations from public, anon, authenticated, service_role;
grant select on table public.recommendations to authenticated;
grant update (status) on table public.recommendations to authenticated;
grant select, insert, update, delete on table public.recommendations to service_role;

-- -----------------------------------------------------------------------------------------------------
-- triggers
-- -----------------------------------------------------------------------------------------------------
create trigger recommendations_set_updated_at
  before update on public.recommendations
  for each row execute function internal.set_updated_at();
