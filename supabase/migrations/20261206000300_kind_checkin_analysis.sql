-- =====================================================================================================
-- Job kind `checkin_analysis`: a completed check-in gets a summary and insights.
--
--   trigger   a check-in that becomes completed queues one job per check-in, ordered per user
--             (checkins_enqueue_analysis, 20261124000300_checkin_analysis)
--   context   internal.checkin_analysis_context: the check-in, its category's form and guidelines,
--             the user's recent check-ins there, the memory summary, the prompt
--   output    {summary, insights: {trend, themes, focus, safety_concern}} (workers/kinds/checkin_analysis.py
--             validates it with pydantic; its tool record_analysis is generated from that model)
--   finish    internal.checkin_analysis_finish: the check-in's AI-owned columns, then a `recommendations`
--             job for it in the same transaction
-- =====================================================================================================

-- What the prompts about a check-in need (analysis, recommendations, follow-ups).
create or replace function internal.checkin_context(p_checkin public.checkins) returns jsonb
  language sql
  stable
  set search_path = ''
as $$
  select jsonb_build_object(
    'checkin', jsonb_build_object('id', p_checkin.id, 'level', p_checkin.level, 'answers', p_checkin.answers,
                                  'note', p_checkin.note, 'completed_at', p_checkin.completed_at,
                                  'summary', p_checkin.summary, 'insights', p_checkin.insights),
    'category', (select jsonb_build_object('id', c.id, 'slug', c.slug, 'name', c.name,
                                           'questions', c.checkin_questions)
                   from public.categories c where c.id = p_checkin.category_id),
    'guidelines', internal.category_guidelines(p_checkin.category_id),
    'recent', coalesce((
      select jsonb_agg(jsonb_build_object('level', r.level, 'answers', r.answers, 'note', r.note,
                                          'completed_at', r.completed_at, 'summary', r.summary)
                       order by r.completed_at desc)
        from (select * from public.checkins k
               where k.user_id = p_checkin.user_id and k.category_id = p_checkin.category_id
                 and k.status = 'completed' and k.id <> p_checkin.id and k.completed_at <= p_checkin.completed_at
               order by k.completed_at desc limit 5) r
    ), '[]'::jsonb),
    'profile', (select jsonb_build_object('display_name', p.display_name, 'locale', p.locale, 'timezone', p.timezone)
                  from public.profiles p where p.id = p_checkin.user_id),
    'memory', (select jsonb_build_object('summary', s.summary) from public.user_summaries s
                where s.user_id = p_checkin.user_id)
  )
$$;

-- The check-in a job of this family is about.
create function internal.job_checkin(p_job internal.jobs) returns public.checkins
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  checkin public.checkins;
begin
  select * into checkin from public.checkins where id = (p_job.payload ->> 'checkin_id')::uuid;
  if not found then
    raise exception 'the check-in of job % no longer exists', p_job.id using errcode = 'PT404';
  end if;
  return checkin;
end;
$$;

create function internal.checkin_analysis_context(p_job internal.jobs) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  checkin public.checkins := internal.job_checkin(p_job);
begin
  return internal.checkin_context(checkin)
         || jsonb_build_object('prompt', internal.resolve_prompt('checkin_analysis'),
                               -- A check-in about a child (20261207000900_child_context).
                               'child', internal.child_context(checkin.user_id, checkin.child_id));
end;
$$;
comment on function internal.checkin_analysis_context(internal.jobs) is
  'Job kind checkin_analysis: the check-in with its form, guidelines, recent check-ins, memory and prompt.';

create function internal.checkin_analysis_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  checkin public.checkins := internal.job_checkin(p_job);
  stamp record := internal.last_call(p_usage);
begin
  if jsonb_typeof(p_output -> 'summary') <> 'string' or jsonb_typeof(p_output -> 'insights') <> 'object' then
    raise exception 'checkin_analysis output: summary (string) and insights (object) are required'
      using errcode = '22023';
  end if;
  update public.checkins
     set summary = p_output ->> 'summary', insights = p_output -> 'insights', analyzed_at = now(),
         analysis_model = stamp.model, analysis_prompt_version = stamp.prompt_version
   where id = checkin.id;
  perform internal.enqueue_job(
    'recommendations',
    jsonb_build_object('checkin_id', checkin.id, 'user_id', checkin.user_id),
    'recommendations:' || checkin.id::text,
    'user:' || checkin.user_id::text
  );
  return jsonb_build_object('subject_id', checkin.id, 'checkin_id', checkin.id);
end;
$$;
comment on function internal.checkin_analysis_finish(internal.jobs, jsonb, jsonb) is
  'Job kind checkin_analysis: store the summary and insights on the check-in and queue its recommendations.';

revoke execute on function internal.checkin_context(public.checkins), internal.job_checkin(internal.jobs),
  internal.checkin_analysis_context(internal.jobs), internal.checkin_analysis_finish(internal.jobs, jsonb, jsonb)
  from public, anon, authenticated;
grant execute on function internal.checkin_context(public.checkins), internal.job_checkin(internal.jobs),
  internal.checkin_analysis_context(internal.jobs), internal.checkin_analysis_finish(internal.jobs, jsonb, jsonb)
  to service_role;

insert into internal.job_kinds (name, description, prompt_kind, streams, context_function, finish_function,
                                metered)
values (
  'checkin_analysis',
  'Analyses a completed check-in: a summary written to the person and insights (trend, themes, focus, safety '
  'concern) on the check-in; then queues its recommendations. Counts as an AI request against the user''s '
  'limits (20261206000130_usage_limits).',
  'checkin_analysis', false,
  'internal.checkin_analysis_context(internal.jobs)', 'internal.checkin_analysis_finish(internal.jobs, jsonb, jsonb)',
  true
);

insert into internal.prompts (name, kind, description) values
  ('checkin_analysis', 'checkin_analysis',
   'Analyses a completed check-in; answers through the record_analysis tool. Placeholders: guidelines, '
   'category, questions, checkin, recent_checkins, user_summary, child, locale.')
on conflict (name) do nothing;

insert into internal.prompt_versions (prompt_name, version, template, model, max_tokens, temperature, is_active, change_note)
values (
  'checkin_analysis', 1, $prompt$You review a check-in that a person completed in a wellbeing coaching app, as their coach would before
replying. Be accurate, kind and specific to what they reported.

Category: {{category}}
Coaching guidelines for this category:
{{guidelines}}

The check-in form (question ids, labels and scales):
{{questions}}

This check-in (overall level 1-10, answers keyed by question id, and their note):
{{checkin}}

Their recent check-ins in this category, newest first:
{{recent_checkins}}

What the coach remembers about them:
{{user_summary}}

The child this check-in is about, if any (age in months, the journey so far):
{{child}}

Call the record_analysis tool with:
- summary: two or three sentences, written to the person ("You slept..."), in {{locale}}. Acknowledge
  effort and anything that went well; name the main difficulty plainly.
- insights.trend: "improving", "stable", "declining" or "first_checkin", comparing the level and key
  answers with earlier check-ins; do not claim a trend from a single earlier check-in that differs by 1.
- insights.themes: up to three short themes you see (e.g. "late screens", "work pressure").
- insights.focus: the one thing most worth working on next, in a short sentence.
- insights.safety_concern: true only if the answers or note suggest risk to the person or a child
  (see the guidelines); otherwise false.
Use only what is in the data above. Do not diagnose.$prompt$, null, 800, 0.30, true, 'First version.'
)
on conflict (prompt_name, version) do nothing;

insert into internal.prompt_assignments (kind, coach_id, prompt_name) values ('checkin_analysis', null, 'checkin_analysis')
on conflict (kind, coach_id) do nothing;
