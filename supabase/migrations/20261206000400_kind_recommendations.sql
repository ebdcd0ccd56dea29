-- =====================================================================================================
-- Job kind `recommendations`: 1 to recommendations.max_per_checkin next steps after an analysis.
--
--   trigger   queued by checkin_analysis's finish, one per check-in, ordered per user
--   context   internal.recommendations_context: the analysed check-in, the user's open
--             recommendations (never repeated), the maximum, the prompt
--   output    {recommendations: [{title, body, why, how, importance}]} (workers/kinds/recommendations.py;
--             its tool record_recommendations is generated from that pydantic model, and the table's
--             checks are compared with it by tests/schema/test_job_kinds.py)
--   finish    internal.recommendations_finish: inserts at most the maximum, skipping a title the user
--             already has open (ignoring case and spacing) and repeats within the output
-- =====================================================================================================

create function internal.recommendations_context(p_job internal.jobs) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  checkin public.checkins := internal.job_checkin(p_job);
begin
  return internal.checkin_context(checkin) || jsonb_build_object(
    'prompt', internal.resolve_prompt('recommendations'),
    'open_recommendations', coalesce((
      select jsonb_agg(jsonb_build_object('title', r.title, 'status', r.status) order by r.created_at)
        from public.recommendations r
       where r.user_id = checkin.user_id and r.status in ('new', 'accepted')
    ), '[]'::jsonb),
    'max_recommendations', least(greatest(
      coalesce((internal.setting('recommendations.max_per_checkin') #>> '{}')::integer, 3), 1), 5)
  );
end;
$$;
comment on function internal.recommendations_context(internal.jobs) is
  'Job kind recommendations: the analysed check-in, the user''s open recommendations, the maximum and prompt.';

create function internal.recommendations_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  checkin public.checkins := internal.job_checkin(p_job);
  stamp record := internal.last_call(p_usage);
  items jsonb := p_output -> 'recommendations';
  added integer;
begin
  if jsonb_typeof(items) <> 'array' then
    raise exception 'recommendations output: recommendations must be a JSON array' using errcode = '22023';
  end if;
  with given as (
    select distinct on (lower(regexp_replace(btrim(i ->> 'title'), '\s+', ' ', 'g')))
           btrim(i ->> 'title') as title, coalesce(i ->> 'body', '') as body, coalesce(i ->> 'why', '') as why,
           coalesce(i ->> 'how', '') as how, coalesce((i ->> 'importance')::smallint, 3) as importance, ord
      from jsonb_array_elements(items) with ordinality as t(i, ord)
     where ord <= least(greatest(
             coalesce((internal.setting('recommendations.max_per_checkin') #>> '{}')::integer, 3), 1), 5)
     order by lower(regexp_replace(btrim(i ->> 'title'), '\s+', ' ', 'g')), ord
  ), inserted as (
    insert into public.recommendations (user_id, checkin_id, category_id, title, body, why, how, importance,
                                        source, model, prompt_version)
    select checkin.user_id, checkin.id, checkin.category_id, g.title, g.body, g.why, g.how, g.importance,
           'checkin', stamp.model, stamp.prompt_version
      from given g
     where not exists (
       select 1 from public.recommendations r
        where r.user_id = checkin.user_id and r.status in ('new', 'accepted')
          and lower(regexp_replace(btrim(r.title), '\s+', ' ', 'g')) = lower(regexp_replace(g.title, '\s+', ' ', 'g'))
     )
     order by g.ord
    returning 1
  )
  select count(*) into added from inserted;
  return jsonb_build_object('subject_id', checkin.id, 'added', added);
end;
$$;
comment on function internal.recommendations_finish(internal.jobs, jsonb, jsonb) is
  'Job kind recommendations: add them to the user''s recommendations, skipping titles already open.';

revoke execute on function internal.recommendations_context(internal.jobs),
  internal.recommendations_finish(internal.jobs, jsonb, jsonb) from public, anon, authenticated;
grant execute on function internal.recommendations_context(internal.jobs),
  internal.recommendations_finish(internal.jobs, jsonb, jsonb) to service_role;

insert into internal.job_kinds (name, description, prompt_kind, streams, context_function, finish_function)
values (
  'recommendations',
  'Suggests 1 to recommendations.max_per_checkin next steps after a check-in''s analysis, never repeating one '
  'the user already has open.',
  'recommendations', false,
  'internal.recommendations_context(internal.jobs)', 'internal.recommendations_finish(internal.jobs, jsonb, jsonb)'
);

insert into internal.prompts (name, kind, description) values
  ('recommendations', 'recommendations',
   'Suggests 1-5 next steps after an analysis; answers through the record_recommendations tool. '
   'Placeholders: guidelines, category, analysis, open_recommendations, user_summary, max_recommendations, locale.')
on conflict (name) do nothing;

insert into internal.prompt_versions (prompt_name, version, template, model, max_tokens, temperature, is_active, change_note)
values (
  'recommendations', 1, $prompt$You suggest next steps to a person after their coach analysed their latest check-in in a wellbeing
coaching app.

Category: {{category}}
Coaching guidelines for this category:
{{guidelines}}

The analysis of their latest check-in:
{{analysis}}

What the coach remembers about them:
{{user_summary}}

Recommendations they already have open (do not repeat these or suggest near-duplicates):
{{open_recommendations}}

Call the record_recommendations tool with 1 to {{max_recommendations}} recommendations, best first. Each has:
- title: a short imperative, at most 80 characters ("Put your phone outside the bedroom tonight").
- body: what to do, in two or three sentences.
- why: why this helps them in particular, linked to what they reported.
- how: the very first small step, doable today or tomorrow.
- importance: 1 (nice to have) to 5 (most important right now).
Prefer small, specific and realistic over ambitious. Stay within the guidelines: no diagnoses, no
medication or supplements, no weight targets. Write in {{locale}}.$prompt$, null, 1200, 0.50, true, 'First version.'
)
on conflict (prompt_name, version) do nothing;

insert into internal.prompt_assignments (kind, coach_id, prompt_name) values ('recommendations', null, 'recommendations')
on conflict (kind, coach_id) do nothing;
