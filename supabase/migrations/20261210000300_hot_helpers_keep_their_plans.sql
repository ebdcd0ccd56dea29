-- =====================================================================================================
-- The SQL helpers every message calls keep their plans: written in PL/pgSQL.
-- A SQL function with `set search_path` cannot be inlined, and Postgres parses and plans its body again
-- on every call (once per calling expression and transaction, and a REST request is one transaction).
-- A PL/pgSQL function keeps its plans for the life of the connection. Profiled under load (perf, the
-- pipeline benchmark at 100 conversations), the parsing and planning of SQL function bodies was ~9 % of
-- Postgres's CPU; these six are the ones each user message calls (`pg_stat_user_functions`: 1 to 2 calls
-- a message each, 0.08 to 0.24 ms a call). Same results, same volatility, same search_path.
-- =====================================================================================================

create or replace function internal.setting_integer(p_key text, p_default integer) returns integer
  language plpgsql
  stable
  set search_path = ''
as $$
begin
  return coalesce((select (s.value #>> '{}')::integer from internal.settings s where s.key = p_key), p_default);
end;
$$;
comment on function internal.setting_integer(text, integer) is
  'The integer value of an operator setting (internal.settings), or p_default.';

create or replace function internal.user_time_zone(p_user_id uuid) returns text
  language plpgsql
  stable
  set search_path = ''
as $$
begin
  return coalesce((select p.timezone from public.profiles p where p.id = p_user_id), 'UTC');
end;
$$;
comment on function internal.user_time_zone(uuid) is 'The user''s time zone (profiles.timezone), or UTC.';

create or replace function internal.safety_categories() returns text[]
  language plpgsql
  immutable
  set search_path = ''
as $$
begin
  return array['suicide', 'self_harm', 'harm_to_others', 'abuse_disclosure', 'child_abuse_disclosure',
               'medical_emergency', 'infant_emergency', 'eating_disorder', 'diagnosis_request',
               'infant_feeding_red_line'];
end;
$$;

create or replace function internal.last_call(p_usage jsonb, out model text, out prompt_version text)
  language plpgsql
  immutable
  set search_path = ''
as $$
begin
  model := left(coalesce(p_usage -> -1 ->> 'model', '-'), 100);
  prompt_version := left(coalesce(p_usage -> -1 ->> 'prompt_version', '-'), 100);
end;
$$;

create or replace function internal.stored_reply_steps(p_message_id uuid) returns jsonb
  language plpgsql
  stable
  set search_path = ''
as $$
begin
  return (
    select coalesce(jsonb_agg(jsonb_build_object(
             'step', s.step, 'text', s.text,
             'calls', (select coalesce(jsonb_agg(jsonb_build_object(
                                'id', c.id, 'tool_use_id', c.tool_use_id, 'name', c.name, 'input', c.input,
                                'status', c.status, 'result', c.result, 'is_error', c.is_error)
                              order by c.position), '[]'::jsonb)
                         from public.tool_calls c where c.message_id = s.message_id and c.step = s.step))
           order by s.step), '[]'::jsonb)
      from internal.reply_steps s
     where s.message_id = p_message_id
  );
end;
$$;

create or replace function tools.daily_plan_json(p_daily_plan_id uuid) returns jsonb
  language plpgsql
  stable
  set search_path = ''
as $$
begin
  return (
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
  );
end;
$$;
comment on function tools.daily_plan_json(uuid) is 'A daily plan with its items, as tools and the planner context return it.';
