-- =====================================================================================================
-- The planner's tool helpers keep their plans, and a day's plan that exists is read, not inserted.
-- As in 20261210000300: a SQL function with `set search_path` cannot be inlined, and Postgres parses and
-- plans its body again on every call; a PL/pgSQL function keeps its plans for the connection's life.
-- Profiled in the agent benchmark (`pg_stat_user_functions`, 500 tool rounds of add_plan_item), the step
-- function spent 3.0 ms a round, of which tools.today 0.22 ms a call and tools.daily_plan_for 0.25 (an
-- insert that meets its conflict, then the select, every time the day's plan already exists).
-- Same results, same volatility, same search_path; the grants on these functions are kept by
-- `create or replace`.
-- =====================================================================================================

-- Today in the calling user's time zone.
create or replace function tools.today() returns date
  language plpgsql
  stable
  set search_path = ''
as $$
begin
  return (now() at time zone coalesce((select p.timezone from public.profiles p where p.id = (select auth.uid())),
                                      'UTC'))::date;
end;
$$;

-- The caller's daily plan for a day, created (and linked to that week's plan) when there is none.
create or replace function tools.daily_plan_for(p_date date) returns public.daily_plans
  language plpgsql
  set search_path = ''
as $$
declare
  plan public.daily_plans;
begin
  select * into plan from public.daily_plans where date = p_date;
  if found then
    return plan;
  end if;
  insert into public.daily_plans (date, weekly_plan_id)
  values (p_date, (select w.id from public.weekly_plans w
                    where w.week_start_date = p_date - (extract(isodow from p_date)::integer - 1)))
  on conflict (user_id, date) do nothing;
  select * into plan from public.daily_plans where date = p_date;
  return plan;
end;
$$;

create or replace function tools.plan_item_json(p_item public.plan_items) returns jsonb
  language plpgsql
  immutable
  set search_path = ''
as $$
begin
  return jsonb_build_object('id', p_item.id, 'daily_plan_id', p_item.daily_plan_id, 'title', p_item.title,
                            'notes', p_item.notes, 'status', p_item.status, 'priority', p_item.priority,
                            'goal_id', p_item.goal_id, 'position', p_item.position);
end;
$$;

create or replace function tools.goal_json(p_goal public.goals) returns jsonb
  language plpgsql
  immutable
  set search_path = ''
as $$
begin
  return jsonb_build_object('id', p_goal.id, 'title', p_goal.title, 'description', p_goal.description,
                            'time_horizon', p_goal.time_horizon, 'status', p_goal.status,
                            'priority', p_goal.priority, 'progress', p_goal.progress,
                            'parent_goal_id', p_goal.parent_goal_id, 'due_date', p_goal.due_date);
end;
$$;
