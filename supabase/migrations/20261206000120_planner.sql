-- =====================================================================================================
-- The planner app: goals, weekly plans, daily plans and their items, owned by one user each, and a
-- planner coach (Ada) who reads and changes them through tools while she talks with the user.
--
-- Frontends use the tables directly (owner-only RLS, all in the Realtime publication); the coach's
-- tools are SQL functions run as the conversation's user (20261206000110_agent_tools), so RLS decides
-- what they touch exactly as for the user's own requests. References between the tables carry the
-- owner too ((goal_id, user_id) → goals (id, user_id), ...): nobody can hang a row on someone else's.
-- Plan items keep a stable order in `position` (a number between its neighbours): moving one item
-- never renumbers the others.
-- A conversation may be about a plan or a goal (context_type, context_id): its replies then get that
-- plan or goal in their context, and every reply gets the user's active goals.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- types
-- -----------------------------------------------------------------------------------------------------
create type public.goal_time_horizon as enum ('short', 'medium', 'long');
comment on type public.goal_time_horizon is
  'short: weeks; medium: months; long: a year or more.';
create type public.goal_status as enum ('active', 'completed', 'paused', 'cancelled');
comment on type public.goal_status is
  'active: being worked on; completed: reached; paused: on hold, may come back; cancelled: dropped.';
create type public.plan_priority as enum ('low', 'medium', 'high', 'urgent');
comment on type public.plan_priority is 'low, medium, high or urgent: how much it matters now.';
create type public.plan_status as enum ('draft', 'active', 'completed');
comment on type public.plan_status is
  'draft: being put together; active: the plan being followed; completed: its week or day is over.';
create type public.plan_item_status as enum ('todo', 'in_progress', 'done', 'skipped');
comment on type public.plan_item_status is
  'todo: not started; in_progress: started; done: finished; skipped: deliberately not done.';
create type public.conversation_context_type as enum ('daily_planning', 'weekly_planning', 'goal');
comment on type public.conversation_context_type is
  'What a conversation is about: daily_planning (context_id: a daily plan), weekly_planning (a weekly plan), '
  'goal (a goal).';

-- -----------------------------------------------------------------------------------------------------
-- table: goals
-- -----------------------------------------------------------------------------------------------------
create table public.goals (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null,
  description text not null default '',
  time_horizon public.goal_time_horizon not null default 'medium',
  status public.goal_status not null default 'active',
  priority public.plan_priority not null default 'medium',
  progress smallint not null default 0,
  parent_goal_id uuid,
  due_date date,
  completed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint goals_id_user_id_key unique (id, user_id),
  constraint goals_parent_goal_fkey foreign key (parent_goal_id, user_id)
    references public.goals (id, user_id) on delete set null (parent_goal_id),
  constraint goals_title_1_to_200_characters check (char_length(btrim(title)) between 1 and 200),
  constraint goals_description_at_most_4000_characters check (char_length(description) <= 4000),
  constraint goals_progress_between_0_and_100 check (progress between 0 and 100),
  constraint goals_not_its_own_parent check (parent_goal_id <> id)
);
comment on table public.goals is
  'A user''s goals (the planner app): title, horizon, status, priority, progress, optional parent goal and due '
  'date. Owner-only; the planner coach changes them through tools for the user.';
comment on column public.goals.id is 'Goal id.';
comment on column public.goals.user_id is 'The owner (defaults to the caller).';
comment on column public.goals.title is 'What the goal is, 1 to 200 characters.';
comment on column public.goals.description is 'Why it matters, what done looks like (at most 4,000 characters).';
comment on column public.goals.time_horizon is 'short, medium or long; see the type goal_time_horizon.';
comment on column public.goals.status is 'active, completed, paused or cancelled; see the type goal_status.';
comment on column public.goals.priority is 'low, medium, high or urgent.';
comment on column public.goals.progress is 'Progress in percent, 0 to 100.';
comment on column public.goals.parent_goal_id is 'The bigger goal this one serves (one of the owner''s own goals).';
comment on column public.goals.due_date is 'When the owner wants it reached, if anything.';
comment on column public.goals.completed_at is 'When it became completed (maintained by a trigger).';
comment on column public.goals.created_at is 'When the goal was created.';
comment on column public.goals.updated_at is 'When the goal last changed.';

create index goals_user_id_status_idx on public.goals (user_id, status);
create index goals_parent_goal_id_idx on public.goals (parent_goal_id, user_id);

alter table public.goals enable row level security;
create policy "Owners read their goals" on public.goals for select to authenticated
  using (user_id = (select auth.uid()));
create policy "Owners add goals" on public.goals for insert to authenticated
  with check (user_id = (select auth.uid()));
create policy "Owners change their goals" on public.goals for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy "Owners delete their goals" on public.goals for delete to authenticated
  using (user_id = (select auth.uid()));

revoke all on table public.goals from public, anon, authenticated, service_role;
grant select, delete on table public.goals to authenticated;
grant insert (id, user_id, title, description, time_horizon, status, priority, progress, parent_goal_id, due_date)
  on table public.goals to authenticated;
grant update (title, description, time_horizon, status, priority, progress, parent_goal_id, due_date)
  on table public.goals to authenticated;
grant select, insert, update, delete on table public.goals to service_role;

-- completed_at follows status; updated_at on every change.
create function internal.stamp_goal() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  new.updated_at := now();
  if new.status = 'completed' and (tg_op = 'INSERT' or old.status <> 'completed') then
    new.completed_at := now();
  elsif new.status <> 'completed' then
    new.completed_at := null;
  end if;
  return new;
end;
$$;
comment on function internal.stamp_goal() is 'Trigger: goals.completed_at follows status, updated_at on every change.';
create trigger goals_stamp before insert or update on public.goals
  for each row execute function internal.stamp_goal();

-- -----------------------------------------------------------------------------------------------------
-- table: weekly_plans
-- -----------------------------------------------------------------------------------------------------
create table public.weekly_plans (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  week_start_date date not null,
  summary text not null default '',
  focus_areas text[] not null default '{}',
  status public.plan_status not null default 'draft',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint weekly_plans_id_user_id_key unique (id, user_id),
  constraint weekly_plans_user_id_week_start_date_key unique (user_id, week_start_date),
  constraint weekly_plans_week_start_date_is_a_monday check (extract(isodow from week_start_date) = 1),
  constraint weekly_plans_summary_at_most_4000_characters check (char_length(summary) <= 4000),
  constraint weekly_plans_focus_areas_at_most_10 check (cardinality(focus_areas) <= 10)
);
comment on table public.weekly_plans is
  'A user''s plan for one week (one per user and week, starting on a Monday): summary, focus areas, status.';
comment on column public.weekly_plans.id is 'Weekly plan id.';
comment on column public.weekly_plans.user_id is 'The owner (defaults to the caller).';
comment on column public.weekly_plans.week_start_date is 'The Monday the week starts on.';
comment on column public.weekly_plans.summary is 'What the week is about (at most 4,000 characters).';
comment on column public.weekly_plans.focus_areas is 'Up to 10 focus areas for the week, 1 to 100 characters each.';
comment on column public.weekly_plans.status is 'draft, active or completed; see the type plan_status.';
comment on column public.weekly_plans.created_at is 'When the plan was created.';
comment on column public.weekly_plans.updated_at is 'When the plan last changed.';

alter table public.weekly_plans enable row level security;
create policy "Owners read their weekly plans" on public.weekly_plans for select to authenticated
  using (user_id = (select auth.uid()));
create policy "Owners add weekly plans" on public.weekly_plans for insert to authenticated
  with check (user_id = (select auth.uid()));
create policy "Owners change their weekly plans" on public.weekly_plans for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy "Owners delete their weekly plans" on public.weekly_plans for delete to authenticated
  using (user_id = (select auth.uid()));

revoke all on table public.weekly_plans from public, anon, authenticated, service_role;
grant select, delete on table public.weekly_plans to authenticated;
grant insert (id, user_id, week_start_date, summary, focus_areas, status) on table public.weekly_plans to authenticated;
grant update (summary, focus_areas, status) on table public.weekly_plans to authenticated;
grant select, insert, update, delete on table public.weekly_plans to service_role;

-- Focus areas are 1..100 characters each (a check constraint cannot look inside an array); updated_at.
create function internal.stamp_weekly_plan() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if exists (select 1 from unnest(new.focus_areas) f where char_length(btrim(f)) not between 1 and 100) then
    raise exception 'focus_areas: each focus area must be 1 to 100 characters'
      using errcode = 'check_violation', column = 'focus_areas', table = 'weekly_plans',
            constraint = 'weekly_plans_focus_areas_1_to_100_characters';
  end if;
  new.updated_at := now();
  return new;
end;
$$;
comment on function internal.stamp_weekly_plan() is 'Trigger: each focus area is 1 to 100 characters; updated_at on every change.';
create trigger weekly_plans_stamp before insert or update on public.weekly_plans
  for each row execute function internal.stamp_weekly_plan();

-- -----------------------------------------------------------------------------------------------------
-- table: daily_plans
-- -----------------------------------------------------------------------------------------------------
create table public.daily_plans (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  date date not null,
  weekly_plan_id uuid,
  summary text not null default '',
  status public.plan_status not null default 'draft',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint daily_plans_id_user_id_key unique (id, user_id),
  constraint daily_plans_user_id_date_key unique (user_id, date),
  constraint daily_plans_weekly_plan_fkey foreign key (weekly_plan_id, user_id)
    references public.weekly_plans (id, user_id) on delete set null (weekly_plan_id),
  constraint daily_plans_summary_at_most_4000_characters check (char_length(summary) <= 4000)
);
comment on table public.daily_plans is
  'A user''s plan for one day (one per user and day), optionally part of their weekly plan; its items are in '
  'plan_items.';
comment on column public.daily_plans.id is 'Daily plan id.';
comment on column public.daily_plans.user_id is 'The owner (defaults to the caller).';
comment on column public.daily_plans.date is 'The day, in the owner''s time zone.';
comment on column public.daily_plans.weekly_plan_id is 'The week''s plan it belongs to (one of the owner''s own).';
comment on column public.daily_plans.summary is 'What the day is about (at most 4,000 characters).';
comment on column public.daily_plans.status is 'draft, active or completed; see the type plan_status.';
comment on column public.daily_plans.created_at is 'When the plan was created.';
comment on column public.daily_plans.updated_at is 'When the plan last changed.';

create index daily_plans_weekly_plan_id_idx on public.daily_plans (weekly_plan_id, user_id);

alter table public.daily_plans enable row level security;
create policy "Owners read their daily plans" on public.daily_plans for select to authenticated
  using (user_id = (select auth.uid()));
create policy "Owners add daily plans" on public.daily_plans for insert to authenticated
  with check (user_id = (select auth.uid()));
create policy "Owners change their daily plans" on public.daily_plans for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy "Owners delete their daily plans" on public.daily_plans for delete to authenticated
  using (user_id = (select auth.uid()));

revoke all on table public.daily_plans from public, anon, authenticated, service_role;
grant select, delete on table public.daily_plans to authenticated;
grant insert (id, user_id, date, weekly_plan_id, summary, status) on table public.daily_plans to authenticated;
grant update (weekly_plan_id, summary, status) on table public.daily_plans to authenticated;
grant select, insert, update, delete on table public.daily_plans to service_role;

create trigger daily_plans_set_updated_at before update on public.daily_plans
  for each row execute function internal.set_updated_at();

-- -----------------------------------------------------------------------------------------------------
-- table: plan_items
-- -----------------------------------------------------------------------------------------------------
create table public.plan_items (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  daily_plan_id uuid not null,
  goal_id uuid,
  title text not null,
  notes text not null default '',
  status public.plan_item_status not null default 'todo',
  priority public.plan_priority not null default 'medium',
  position numeric not null,
  completed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint plan_items_daily_plan_fkey foreign key (daily_plan_id, user_id)
    references public.daily_plans (id, user_id) on delete cascade,
  constraint plan_items_goal_fkey foreign key (goal_id, user_id)
    references public.goals (id, user_id) on delete set null (goal_id),
  constraint plan_items_title_1_to_200_characters check (char_length(btrim(title)) between 1 and 200),
  constraint plan_items_notes_at_most_4000_characters check (char_length(notes) <= 4000)
);
comment on table public.plan_items is
  'The items of a daily plan, in `position` order: title, notes, status, priority, optional goal.';
comment on column public.plan_items.id is 'Plan item id.';
comment on column public.plan_items.user_id is 'The owner (defaults to the caller).';
comment on column public.plan_items.daily_plan_id is 'The daily plan (one of the owner''s own).';
comment on column public.plan_items.goal_id is 'The goal it moves forward (one of the owner''s own), if any.';
comment on column public.plan_items.title is 'What to do, 1 to 200 characters.';
comment on column public.plan_items.notes is 'Details (at most 4,000 characters).';
comment on column public.plan_items.status is 'todo, in_progress, done or skipped; see the type plan_item_status.';
comment on column public.plan_items.priority is 'low, medium, high or urgent.';
comment on column public.plan_items.position is
  'Order within the day, ascending. Left out on insert: after the last item. To move an item, set a number '
  'between its new neighbours'' positions; the others keep theirs.';
comment on column public.plan_items.completed_at is 'When it became done (maintained by a trigger).';
comment on column public.plan_items.created_at is 'When the item was added.';
comment on column public.plan_items.updated_at is 'When the item last changed.';

create index plan_items_daily_plan_id_position_idx on public.plan_items (daily_plan_id, position);
create index plan_items_user_id_idx on public.plan_items (user_id);
create index plan_items_goal_id_idx on public.plan_items (goal_id, user_id);

alter table public.plan_items enable row level security;
create policy "Owners read their plan items" on public.plan_items for select to authenticated
  using (user_id = (select auth.uid()));
create policy "Owners add plan items" on public.plan_items for insert to authenticated
  with check (user_id = (select auth.uid()));
create policy "Owners change their plan items" on public.plan_items for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy "Owners delete their plan items" on public.plan_items for delete to authenticated
  using (user_id = (select auth.uid()));

revoke all on table public.plan_items from public, anon, authenticated, service_role;
grant select, delete on table public.plan_items to authenticated;
grant insert (id, user_id, daily_plan_id, goal_id, title, notes, status, priority, position)
  on table public.plan_items to authenticated;
grant update (goal_id, title, notes, status, priority, position) on table public.plan_items to authenticated;
grant select, insert, update, delete on table public.plan_items to service_role;

-- A new item without a position goes after the day's last one (its plan locked, so two at once do not
-- take the same place); completed_at follows status; updated_at on every change.
create function internal.stamp_plan_item() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  new.updated_at := now();
  if tg_op = 'INSERT' and new.position is null then
    perform 1 from public.daily_plans d where d.id = new.daily_plan_id for update;
    new.position := coalesce((select max(i.position) from public.plan_items i where i.daily_plan_id = new.daily_plan_id), 0) + 1;
  end if;
  if new.status = 'done' and (tg_op = 'INSERT' or old.status <> 'done') then
    new.completed_at := now();
  elsif new.status <> 'done' then
    new.completed_at := null;
  end if;
  return new;
end;
$$;
comment on function internal.stamp_plan_item() is
  'Trigger: a plan item without a position goes last; completed_at follows status; updated_at on every change.';
create trigger plan_items_stamp before insert or update on public.plan_items
  for each row execute function internal.stamp_plan_item();

revoke execute on function internal.stamp_goal(), internal.stamp_weekly_plan(), internal.stamp_plan_item()
  from public, anon, authenticated;

alter publication supabase_realtime
  add table public.goals, public.weekly_plans, public.daily_plans, public.plan_items;

-- -----------------------------------------------------------------------------------------------------
-- conversations about a plan or a goal
-- -----------------------------------------------------------------------------------------------------
alter table public.conversations
  add column context_type public.conversation_context_type,
  add column context_id uuid,
  add constraint conversations_context_type_and_id_together check ((context_type is null) = (context_id is null));
comment on column public.conversations.context_type is
  'What the conversation is about: daily_planning, weekly_planning or goal (see the type); null: nothing in particular.';
comment on column public.conversations.context_id is
  'The daily plan, weekly plan or goal it is about (one of the owner''s own).';
grant insert (context_type, context_id) on table public.conversations to authenticated;
grant update (context_type, context_id) on table public.conversations to authenticated;

-- The plan or goal a conversation is about must be its owner's.
create function internal.check_conversation_context() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  owned boolean;
begin
  if new.context_id is null then
    return new;
  end if;
  owned := case new.context_type
    when 'daily_planning' then exists (select 1 from public.daily_plans p where p.id = new.context_id and p.user_id = new.user_id)
    when 'weekly_planning' then exists (select 1 from public.weekly_plans p where p.id = new.context_id and p.user_id = new.user_id)
    when 'goal' then exists (select 1 from public.goals g where g.id = new.context_id and g.user_id = new.user_id)
  end;
  if not owned then
    raise exception 'context_id: no % of yours with id %', replace(new.context_type::text, '_planning', ' plan'), new.context_id
      using errcode = '23503', column = 'context_id', table = 'conversations';
  end if;
  return new;
end;
$$;
comment on function internal.check_conversation_context() is
  'Trigger: a conversation''s context_id names a plan or goal of its owner. Security definer: it checks rows '
  'the caller''s RLS would hide as well, and reveals nothing but "not yours".';
create trigger conversations_check_context before insert or update of context_type, context_id on public.conversations
  for each row execute function internal.check_conversation_context();
revoke execute on function internal.check_conversation_context() from public, anon, authenticated;

-- Plans and goals as JSON: for reply contexts and for the tools' results (run as the user: RLS applies).
create function tools.goal_json(p_goal public.goals) returns jsonb
  language sql
  immutable
  set search_path = ''
as $$
  select jsonb_build_object('id', p_goal.id, 'title', p_goal.title, 'description', p_goal.description,
                            'time_horizon', p_goal.time_horizon, 'status', p_goal.status,
                            'priority', p_goal.priority, 'progress', p_goal.progress,
                            'parent_goal_id', p_goal.parent_goal_id, 'due_date', p_goal.due_date)
$$;

create function tools.daily_plan_json(p_daily_plan_id uuid) returns jsonb
  language sql
  stable
  set search_path = ''
as $$
  select jsonb_build_object(
           'kind', 'daily_plan', 'id', d.id, 'date', d.date, 'summary', d.summary, 'status', d.status,
           'weekly_plan_id', d.weekly_plan_id,
           'items', coalesce((select jsonb_agg(jsonb_build_object('id', i.id, 'title', i.title, 'notes', i.notes,
                                                                  'status', i.status, 'priority', i.priority,
                                                                  'goal_id', i.goal_id, 'position', i.position)
                                               order by i.position, i.created_at, i.id)
                                from public.plan_items i where i.daily_plan_id = d.id), '[]'))
    from public.daily_plans d
   where d.id = p_daily_plan_id
$$;

-- What a reply's context gets from the planner: the user's active goals and the plan (or goal) the
-- conversation is about, else today's plan in the user's time zone.
create function internal.planner_context(p_user_id uuid, p_context_type public.conversation_context_type,
                                         p_context_id uuid) returns jsonb
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  zone text := coalesce((select p.timezone from public.profiles p where p.id = p_user_id), 'UTC');
  today date := (now() at time zone zone)::date;
  plan jsonb;
begin
  if p_context_type = 'weekly_planning' then
    select jsonb_build_object('kind', 'weekly_plan', 'id', w.id, 'week_start_date', w.week_start_date,
                              'summary', w.summary, 'focus_areas', w.focus_areas, 'status', w.status,
                              'days', coalesce((select jsonb_agg(tools.daily_plan_json(d.id) order by d.date)
                                                  from public.daily_plans d where d.weekly_plan_id = w.id), '[]'))
      into plan from public.weekly_plans w where w.id = p_context_id and w.user_id = p_user_id;
  elsif p_context_type = 'goal' then
    select jsonb_build_object('kind', 'goal', 'goal', tools.goal_json(g),
                              'sub_goals', coalesce((select jsonb_agg(tools.goal_json(s) order by s.created_at)
                                                       from public.goals s where s.parent_goal_id = g.id), '[]'))
      into plan from public.goals g where g.id = p_context_id and g.user_id = p_user_id;
  else
    plan := tools.daily_plan_json((select d.id from public.daily_plans d where d.user_id = p_user_id
                                        and d.date = case when p_context_type = 'daily_planning' then
                                              (select x.date from public.daily_plans x where x.id = p_context_id)
                                            else today end));
  end if;
  return jsonb_build_object(
    'today', today,
    'goals', coalesce((select jsonb_agg(tools.goal_json(g) order by g.priority desc, g.created_at)
                         from (select * from public.goals g where g.user_id = p_user_id and g.status = 'active'
                                order by g.priority desc, g.created_at limit 20) g), '[]'),
    'plan', plan
  );
end;
$$;

revoke execute on function internal.planner_context(uuid, public.conversation_context_type, uuid),
  tools.goal_json(public.goals), tools.daily_plan_json(uuid)
  from public, anon, authenticated;
grant execute on function tools.goal_json(public.goals), tools.daily_plan_json(uuid) to authenticated;
grant execute on function internal.planner_context(uuid, public.conversation_context_type, uuid),
  tools.goal_json(public.goals), tools.daily_plan_json(uuid) to service_role;

-- -----------------------------------------------------------------------------------------------------
-- tools: the planner coach reads and changes goals and plans for the conversation's user. Each runs as
-- that user (role authenticated, their claims: RLS applies), validates what RLS cannot, and returns
-- {"result": …, "changes": [{"table", "id", "action"}]}. A refusal raises, with the field it is about.
-- -----------------------------------------------------------------------------------------------------

-- Today in the calling user's time zone.
create function tools.today() returns date
  language sql
  stable
  set search_path = ''
as $$
  select (now() at time zone coalesce((select p.timezone from public.profiles p where p.id = (select auth.uid())), 'UTC'))::date
$$;

-- The caller's goal, or a refusal naming the field (another user's id is simply not found under RLS).
create function tools.own_goal(p_id uuid, p_field text) returns public.goals
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  goal public.goals;
begin
  select * into goal from public.goals where id = p_id;
  if not found then
    raise exception '%: no goal of yours has the id %', p_field, p_id using errcode = 'P0002';
  end if;
  return goal;
end;
$$;

create function tools.own_plan_item(p_id uuid) returns public.plan_items
  language plpgsql
  set search_path = ''
as $$
declare
  item public.plan_items;
begin
  select * into item from public.plan_items where id = p_id for update;
  if not found then
    raise exception 'item_id: no plan item of yours has the id %', p_id using errcode = 'P0002';
  end if;
  return item;
end;
$$;

-- The caller's daily plan for a day, created (and linked to that week's plan) when there is none.
create function tools.daily_plan_for(p_date date) returns public.daily_plans
  language plpgsql
  set search_path = ''
as $$
declare
  plan public.daily_plans;
begin
  insert into public.daily_plans (date, weekly_plan_id)
  values (p_date, (select w.id from public.weekly_plans w
                    where w.week_start_date = p_date - (extract(isodow from p_date)::integer - 1)))
  on conflict (user_id, date) do nothing;
  select * into plan from public.daily_plans where date = p_date;
  return plan;
end;
$$;

create function tools.plan_item_json(p_item public.plan_items) returns jsonb
  language sql
  immutable
  set search_path = ''
as $$
  select jsonb_build_object('id', p_item.id, 'daily_plan_id', p_item.daily_plan_id, 'title', p_item.title,
                            'notes', p_item.notes, 'status', p_item.status, 'priority', p_item.priority,
                            'goal_id', p_item.goal_id, 'position', p_item.position)
$$;

create function tools.list_goals(p_ctx jsonb, p_input jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
begin
  return jsonb_build_object('result', jsonb_build_object('goals', coalesce((
    select jsonb_agg(tools.goal_json(g) order by g.status, g.priority desc, g.created_at)
      from public.goals g
     where g.status = coalesce((p_input ->> 'status')::public.goal_status, 'active')
  ), '[]')));
end;
$$;

create function tools.create_goal(p_ctx jsonb, p_input jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  goal public.goals;
begin
  if p_input ? 'parent_goal_id' then
    perform tools.own_goal((p_input ->> 'parent_goal_id')::uuid, 'parent_goal_id');
  end if;
  insert into public.goals (title, description, time_horizon, priority, progress, parent_goal_id, due_date)
  values (btrim(p_input ->> 'title'), coalesce(p_input ->> 'description', ''),
          coalesce((p_input ->> 'time_horizon')::public.goal_time_horizon, 'medium'),
          coalesce((p_input ->> 'priority')::public.plan_priority, 'medium'),
          coalesce((p_input ->> 'progress')::smallint, 0),
          (p_input ->> 'parent_goal_id')::uuid, (p_input ->> 'due_date')::date)
  returning * into goal;
  return jsonb_build_object('result', jsonb_build_object('goal', tools.goal_json(goal)),
                            'changes', jsonb_build_array(jsonb_build_object('table', 'goals', 'id', goal.id, 'action', 'insert')));
end;
$$;

create function tools.update_goal(p_ctx jsonb, p_input jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  goal public.goals := tools.own_goal((p_input ->> 'goal_id')::uuid, 'goal_id');
begin
  if p_input ->> 'parent_goal_id' is not null then
    perform tools.own_goal((p_input ->> 'parent_goal_id')::uuid, 'parent_goal_id');
  end if;
  update public.goals
     set title = coalesce(btrim(p_input ->> 'title'), title),
         description = coalesce(p_input ->> 'description', description),
         time_horizon = coalesce((p_input ->> 'time_horizon')::public.goal_time_horizon, time_horizon),
         status = coalesce((p_input ->> 'status')::public.goal_status, status),
         priority = coalesce((p_input ->> 'priority')::public.plan_priority, priority),
         progress = coalesce((p_input ->> 'progress')::smallint,
                             case when (p_input ->> 'status') = 'completed' then 100 end, progress),
         parent_goal_id = case when p_input ? 'parent_goal_id' then (p_input ->> 'parent_goal_id')::uuid else parent_goal_id end,
         due_date = case when p_input ? 'due_date' then (p_input ->> 'due_date')::date else due_date end
   where id = goal.id
  returning * into goal;
  return jsonb_build_object('result', jsonb_build_object('goal', tools.goal_json(goal)),
                            'changes', jsonb_build_array(jsonb_build_object('table', 'goals', 'id', goal.id, 'action', 'update')));
end;
$$;

create function tools.get_plan(p_ctx jsonb, p_input jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  week date := (p_input ->> 'week_start_date')::date;
  day date := coalesce((p_input ->> 'date')::date, tools.today());
  plan jsonb;
begin
  if week is not null then
    select jsonb_build_object('kind', 'weekly_plan', 'id', w.id, 'week_start_date', w.week_start_date,
                              'summary', w.summary, 'focus_areas', w.focus_areas, 'status', w.status,
                              'days', coalesce((select jsonb_agg(tools.daily_plan_json(d.id) order by d.date)
                                                  from public.daily_plans d where d.weekly_plan_id = w.id), '[]'))
      into plan from public.weekly_plans w where w.week_start_date = week;
  else
    plan := tools.daily_plan_json((select d.id from public.daily_plans d where d.date = day));
  end if;
  return jsonb_build_object('result', jsonb_build_object(
    'plan', plan, 'note', case when plan is null then 'There is no plan for that ' ||
                                 case when week is null then 'day' else 'week' end || ' yet.' end));
end;
$$;

create function tools.create_weekly_plan(p_ctx jsonb, p_input jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  week date := (p_input ->> 'week_start_date')::date;
  plan public.weekly_plans;
begin
  if extract(isodow from week) <> 1 then
    raise exception 'week_start_date: % is a %, not a Monday', week, trim(to_char(week, 'Day')) using errcode = '22023';
  end if;
  insert into public.weekly_plans (week_start_date, summary, focus_areas, status)
  values (week, coalesce(p_input ->> 'summary', ''),
          coalesce((select array_agg(btrim(f)) from jsonb_array_elements_text(p_input -> 'focus_areas') f), '{}'),
          coalesce((p_input ->> 'status')::public.plan_status, 'active'))
  on conflict (user_id, week_start_date) do update
     set summary = case when p_input ? 'summary' then excluded.summary else public.weekly_plans.summary end,
         focus_areas = case when p_input ? 'focus_areas' then excluded.focus_areas else public.weekly_plans.focus_areas end,
         status = case when p_input ? 'status' then excluded.status else public.weekly_plans.status end
  returning * into plan;
  update public.daily_plans set weekly_plan_id = plan.id
   where date between week and week + 6 and weekly_plan_id is null;
  return jsonb_build_object(
    'result', jsonb_build_object('weekly_plan', jsonb_build_object('id', plan.id, 'week_start_date', plan.week_start_date,
                                 'summary', plan.summary, 'focus_areas', plan.focus_areas, 'status', plan.status)),
    'changes', jsonb_build_array(jsonb_build_object('table', 'weekly_plans', 'id', plan.id, 'action', 'upsert')));
end;
$$;

create function tools.create_daily_plan(p_ctx jsonb, p_input jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  plan public.daily_plans := tools.daily_plan_for(coalesce((p_input ->> 'date')::date, tools.today()));
begin
  update public.daily_plans
     set summary = coalesce(p_input ->> 'summary', summary),
         status = coalesce((p_input ->> 'status')::public.plan_status, status)
   where id = plan.id
  returning * into plan;
  return jsonb_build_object('result', jsonb_build_object('daily_plan', tools.daily_plan_json(plan.id)),
                            'changes', jsonb_build_array(jsonb_build_object('table', 'daily_plans', 'id', plan.id, 'action', 'upsert')));
end;
$$;

create function tools.add_plan_item(p_ctx jsonb, p_input jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  plan public.daily_plans;
  item public.plan_items;
begin
  if p_input ? 'daily_plan_id' then
    select * into plan from public.daily_plans where id = (p_input ->> 'daily_plan_id')::uuid;
    if not found then
      raise exception 'daily_plan_id: no daily plan of yours has the id %', p_input ->> 'daily_plan_id' using errcode = 'P0002';
    end if;
  else
    plan := tools.daily_plan_for(coalesce((p_input ->> 'date')::date, tools.today()));
  end if;
  if p_input ->> 'goal_id' is not null then
    perform tools.own_goal((p_input ->> 'goal_id')::uuid, 'goal_id');
  end if;
  insert into public.plan_items (daily_plan_id, goal_id, title, notes, priority)
  values (plan.id, (p_input ->> 'goal_id')::uuid, btrim(p_input ->> 'title'), coalesce(p_input ->> 'notes', ''),
          coalesce((p_input ->> 'priority')::public.plan_priority, 'medium'))
  returning * into item;
  return jsonb_build_object('result', jsonb_build_object('item', tools.plan_item_json(item), 'date', plan.date),
                            'changes', jsonb_build_array(jsonb_build_object('table', 'plan_items', 'id', item.id, 'action', 'insert')));
end;
$$;

create function tools.update_plan_item(p_ctx jsonb, p_input jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  item public.plan_items := tools.own_plan_item((p_input ->> 'item_id')::uuid);
begin
  if p_input ->> 'goal_id' is not null then
    perform tools.own_goal((p_input ->> 'goal_id')::uuid, 'goal_id');
  end if;
  update public.plan_items
     set title = coalesce(btrim(p_input ->> 'title'), title),
         notes = coalesce(p_input ->> 'notes', notes),
         status = coalesce((p_input ->> 'status')::public.plan_item_status, status),
         priority = coalesce((p_input ->> 'priority')::public.plan_priority, priority),
         goal_id = case when p_input ? 'goal_id' then (p_input ->> 'goal_id')::uuid else goal_id end
   where id = item.id
  returning * into item;
  return jsonb_build_object('result', jsonb_build_object('item', tools.plan_item_json(item)),
                            'changes', jsonb_build_array(jsonb_build_object('table', 'plan_items', 'id', item.id, 'action', 'update')));
end;
$$;

-- Move an item after another of the same day (or first): its new position is between its new
-- neighbours', so no other item changes.
create function tools.reorder_plan_item(p_ctx jsonb, p_input jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  item public.plan_items := tools.own_plan_item((p_input ->> 'item_id')::uuid);
  after_id uuid := (p_input ->> 'after_item_id')::uuid;
  before numeric;
  next numeric;
begin
  perform 1 from public.daily_plans d where d.id = item.daily_plan_id for update;
  if after_id is not null then
    select i.position into before from public.plan_items i
     where i.id = after_id and i.daily_plan_id = item.daily_plan_id and i.id <> item.id;
    if not found then
      raise exception 'after_item_id: % is not another item of the same day''s plan', after_id using errcode = 'P0002';
    end if;
    select min(i.position) into next from public.plan_items i
     where i.daily_plan_id = item.daily_plan_id and i.position > before and i.id <> item.id;
    item.position := case when next is null then before + 1 else (before + next) / 2 end;
  else
    select min(i.position) into next from public.plan_items i where i.daily_plan_id = item.daily_plan_id and i.id <> item.id;
    item.position := coalesce(next - 1, 1);
  end if;
  update public.plan_items set position = item.position where id = item.id returning * into item;
  return jsonb_build_object('result', jsonb_build_object('item', tools.plan_item_json(item),
                                                         'plan', tools.daily_plan_json(item.daily_plan_id)),
                            'changes', jsonb_build_array(jsonb_build_object('table', 'plan_items', 'id', item.id, 'action', 'update')));
end;
$$;

create function tools.complete_plan_item(p_ctx jsonb, p_input jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  item public.plan_items := tools.own_plan_item((p_input ->> 'item_id')::uuid);
begin
  update public.plan_items set status = 'done' where id = item.id returning * into item;
  return jsonb_build_object('result', jsonb_build_object('item', tools.plan_item_json(item)),
                            'changes', jsonb_build_array(jsonb_build_object('table', 'plan_items', 'id', item.id, 'action', 'update')));
end;
$$;

revoke execute on all functions in schema tools from public, anon;
grant execute on all functions in schema tools to authenticated, service_role;

-- The registry: what the model sees of each tool, and the schema its input is checked against.
insert into internal.tools (name, description, input_schema, function) values
('list_goals', 'List the person''s goals (active ones unless a status is given), with ids to use in other tools.',
 $json${"type": "object", "additionalProperties": false, "properties": {
   "status": {"type": "string", "enum": ["active", "completed", "paused", "cancelled"]}}}$json$,
 'tools.list_goals(jsonb, jsonb)'),
('create_goal', 'Create a goal for the person. Use when they state something they want to achieve.',
 $json${"type": "object", "additionalProperties": false, "required": ["title"], "properties": {
   "title": {"type": "string", "minLength": 1, "maxLength": 200},
   "description": {"type": "string", "maxLength": 4000},
   "time_horizon": {"type": "string", "enum": ["short", "medium", "long"], "description": "short: weeks; medium: months; long: a year or more"},
   "priority": {"type": "string", "enum": ["low", "medium", "high", "urgent"]},
   "progress": {"type": "integer", "minimum": 0, "maximum": 100},
   "parent_goal_id": {"type": "string", "format": "uuid", "description": "A bigger goal of theirs this one serves."},
   "due_date": {"type": "string", "format": "date"}}}$json$,
 'tools.create_goal(jsonb, jsonb)'),
('update_goal', 'Change one of the person''s goals: title, description, horizon, status, priority, progress (0-100), parent or due date.',
 $json${"type": "object", "additionalProperties": false, "required": ["goal_id"], "properties": {
   "goal_id": {"type": "string", "format": "uuid"},
   "title": {"type": "string", "minLength": 1, "maxLength": 200},
   "description": {"type": "string", "maxLength": 4000},
   "time_horizon": {"type": "string", "enum": ["short", "medium", "long"]},
   "status": {"type": "string", "enum": ["active", "completed", "paused", "cancelled"]},
   "priority": {"type": "string", "enum": ["low", "medium", "high", "urgent"]},
   "progress": {"type": "integer", "minimum": 0, "maximum": 100},
   "parent_goal_id": {"type": ["string", "null"], "format": "uuid"},
   "due_date": {"type": ["string", "null"], "format": "date"}}}$json$,
 'tools.update_goal(jsonb, jsonb)'),
('get_plan', 'Read the person''s plan: a day''s plan with its items (today unless a date is given), or a week''s plan with its days (give week_start_date, a Monday).',
 $json${"type": "object", "additionalProperties": false, "properties": {
   "date": {"type": "string", "format": "date"},
   "week_start_date": {"type": "string", "format": "date"}}}$json$,
 'tools.get_plan(jsonb, jsonb)'),
('create_weekly_plan', 'Create the person''s plan for a week (or update it: one plan per week), starting on a Monday.',
 $json${"type": "object", "additionalProperties": false, "required": ["week_start_date"], "properties": {
   "week_start_date": {"type": "string", "format": "date", "description": "The Monday the week starts on."},
   "summary": {"type": "string", "maxLength": 4000},
   "focus_areas": {"type": "array", "maxItems": 10, "items": {"type": "string", "minLength": 1, "maxLength": 100}},
   "status": {"type": "string", "enum": ["draft", "active", "completed"]}}}$json$,
 'tools.create_weekly_plan(jsonb, jsonb)'),
('create_daily_plan', 'Create the person''s plan for a day (or update its summary or status: one plan per day). Today unless a date is given.',
 $json${"type": "object", "additionalProperties": false, "properties": {
   "date": {"type": "string", "format": "date"},
   "summary": {"type": "string", "maxLength": 4000},
   "status": {"type": "string", "enum": ["draft", "active", "completed"]}}}$json$,
 'tools.create_daily_plan(jsonb, jsonb)'),
('add_plan_item', 'Add an item to the end of the person''s plan for a day (today unless a date or daily_plan_id is given; the day''s plan is created if needed).',
 $json${"type": "object", "additionalProperties": false, "required": ["title"], "properties": {
   "title": {"type": "string", "minLength": 1, "maxLength": 200},
   "date": {"type": "string", "format": "date"},
   "daily_plan_id": {"type": "string", "format": "uuid"},
   "notes": {"type": "string", "maxLength": 4000},
   "priority": {"type": "string", "enum": ["low", "medium", "high", "urgent"]},
   "goal_id": {"type": ["string", "null"], "format": "uuid", "description": "The goal it moves forward."}}}$json$,
 'tools.add_plan_item(jsonb, jsonb)'),
('update_plan_item', 'Change a plan item: title, notes, status, priority or goal.',
 $json${"type": "object", "additionalProperties": false, "required": ["item_id"], "properties": {
   "item_id": {"type": "string", "format": "uuid"},
   "title": {"type": "string", "minLength": 1, "maxLength": 200},
   "notes": {"type": "string", "maxLength": 4000},
   "status": {"type": "string", "enum": ["todo", "in_progress", "done", "skipped"]},
   "priority": {"type": "string", "enum": ["low", "medium", "high", "urgent"]},
   "goal_id": {"type": ["string", "null"], "format": "uuid"}}}$json$,
 'tools.update_plan_item(jsonb, jsonb)'),
('reorder_plan_item', 'Move a plan item to right after another item of the same day, or to the top when after_item_id is null or left out.',
 $json${"type": "object", "additionalProperties": false, "required": ["item_id"], "properties": {
   "item_id": {"type": "string", "format": "uuid"},
   "after_item_id": {"type": ["string", "null"], "format": "uuid"}}}$json$,
 'tools.reorder_plan_item(jsonb, jsonb)'),
('complete_plan_item', 'Mark a plan item done.',
 $json${"type": "object", "additionalProperties": false, "required": ["item_id"], "properties": {
   "item_id": {"type": "string", "format": "uuid"}}}$json$,
 'tools.complete_plan_item(jsonb, jsonb)')
on conflict (name) do nothing;

-- -----------------------------------------------------------------------------------------------------
-- the planner coach: Ada, her persona and reply prompt, and her tools
-- -----------------------------------------------------------------------------------------------------
insert into public.coaches (slug, name, description, intro, avatar_path, sort_order) values (
  'ada',
  'Ada',
  'Organised, warm and realistic. Ada is your planning partner: she keeps your goals, your week and your day '
  'in order, and adds, moves and ticks off plan items with you as you talk.',
  'Hi, I''m Ada. I keep your goals and plans in one place and help you decide what today and this week are '
  'for. Tell me what you want to get done, and I''ll put it in your plan.',
  'coaches/ada.png',
  40
)
on conflict (slug) do nothing;

insert into internal.prompts (name, kind, description) values
  ('persona.ada', 'coach_persona', 'Who Ada is: voice and approach. Inserted into chat_reply.planner as {{coach_persona}}.'),
  ('chat_reply.planner', 'chat_reply',
   'System prompt of the planner coach''s replies, with tools. Placeholders: coach_name, coach_persona, '
   'display_name, user_profile, user_summary, conversation_summary, locale, timezone, today, today_date, goals, plan.')
on conflict (name) do nothing;

insert into internal.prompt_versions (prompt_name, version, template, model, max_tokens, temperature, is_active, change_note)
values
(
  'persona.ada', 1, $prompt$You are Ada: organised, warm and realistic. You help people decide what matters, turn it into goals,
a weekly plan and a short daily list, and keep those up to date while you talk. You favour few, clear
priorities over long lists, and you protect rest and buffers in a plan. You check what someone already
has planned before adding more, and you confirm changes in one short sentence.$prompt$, null, 400, 0.50, true, 'First version.'
),
(
  'chat_reply.planner', 1, $prompt$You are {{coach_name}}, the planning coach in a planner app.

# Who you are
{{coach_persona}}

# How you work
- You can read and change the person's goals and plans with your tools. When they ask for something to
  be added, moved, changed or ticked off, do it with the tools in this reply rather than describing it.
- Use the ids from the plan and goals below or from tool results; never invent ids.
- Dates are YYYY-MM-DD in their time zone; today is {{today_date}}. Weekly plans start on a Monday.
- When several independent changes are needed (e.g. adding three items), make the tool calls together.
- If a tool returns an error, read it, correct the call once, or tell the person what went wrong.
- After changing something, confirm it briefly. Keep replies short and practical, in {{locale}}.
- You are a planner, not a doctor or therapist. If the person mentions a crisis, self-harm, abuse or a
  medical emergency, stop planning and tell them to contact emergency services or a crisis line now.

# Their active goals
{{goals}}

# The plan in focus
{{plan}}

# What you know about {{display_name}}
Profile: {{user_profile}}
What you remember: {{user_summary}}
Earlier in this conversation: {{conversation_summary}}

Today is {{today}} ({{timezone}}).$prompt$, null, 1024, 0.50, true, 'First version.'
)
on conflict (prompt_name, version) do nothing;

insert into internal.prompt_assignments (kind, coach_id, prompt_name)
select a.kind, c.id, a.prompt_name
  from (values ('coach_persona', 'persona.ada'), ('chat_reply', 'chat_reply.planner')) as a(kind, prompt_name)
  cross join public.coaches c
 where c.slug = 'ada'
on conflict (kind, coach_id) do nothing;

insert into internal.coach_tools (coach_id, tool_name)
select c.id, t.name from public.coaches c cross join internal.tools t
 where c.slug = 'ada' and t.name in ('list_goals', 'create_goal', 'update_goal', 'get_plan', 'create_weekly_plan',
                                     'create_daily_plan', 'add_plan_item', 'update_plan_item', 'reorder_plan_item',
                                     'complete_plan_item')
on conflict do nothing;
