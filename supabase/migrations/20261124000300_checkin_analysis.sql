-- =====================================================================================================
-- Check-in analysis and recommendations.
--
-- Completing a check-in enqueues a `checkin_analysis` job in the same transaction (one per check-in).
-- The worker writes the summary and insights into the check-in's AI-owned columns and, in the same
-- transaction, enqueues a `recommendations` job, which adds 1-5 recommendations without repeating one
-- the user already has open. Both record their tokens in internal.ai_usage.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- triggers: a completed check-in asks for its analysis
-- -----------------------------------------------------------------------------------------------------
create function internal.enqueue_checkin_analysis() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  perform internal.enqueue_job(
    'checkin_analysis',
    jsonb_build_object('checkin_id', new.id, 'user_id', new.user_id),
    'checkin_analysis:' || new.id::text,
    'user:' || new.user_id::text
  );
  return null;
end;
$$;
comment on function internal.enqueue_checkin_analysis() is
  'Trigger: a check-in that becomes completed gets one checkin_analysis job. Security definer: users '
  'cannot write jobs.';

create trigger checkins_enqueue_analysis
  after insert or update of status on public.checkins
  for each row
  when (new.status = 'completed')
  execute function internal.enqueue_checkin_analysis();

revoke execute on function internal.enqueue_checkin_analysis() from public, anon, authenticated;

-- -----------------------------------------------------------------------------------------------------
-- worker functions (versioned; service_role only; refused without the lease)
-- -----------------------------------------------------------------------------------------------------

-- What the analysis prompt needs about a check-in, in one call.
create function internal.checkin_context(p_checkin public.checkins) returns jsonb
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
    'guidelines', coalesce((select jsonb_agg(to_jsonb(g)) from public.category_guidelines_v1(p_checkin.category_id) g),
                           '[]'::jsonb),
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
revoke execute on function internal.checkin_context(public.checkins) from public, anon, authenticated;
grant execute on function internal.checkin_context(public.checkins) to service_role;

create function internal.leased_checkin(p_job_id bigint, p_worker text, p_kind text)
  returns public.checkins
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.assert_lease(p_job_id, p_worker);
  checkin public.checkins;
begin
  if job.kind <> p_kind then
    raise exception 'job % is a % job, not %', p_job_id, job.kind, p_kind using errcode = '22023';
  end if;
  select * into checkin from public.checkins where id = (job.payload ->> 'checkin_id')::uuid;
  if not found then
    raise exception 'the check-in of job % no longer exists', p_job_id using errcode = 'PT404';
  end if;
  return checkin;
end;
$$;
revoke execute on function internal.leased_checkin(bigint, text, text) from public, anon, authenticated;
grant execute on function internal.leased_checkin(bigint, text, text) to service_role;

create function public.checkin_analysis_context_v1(p_job_id bigint, p_worker text) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  checkin public.checkins := internal.leased_checkin(p_job_id, p_worker, 'checkin_analysis');
begin
  return internal.checkin_context(checkin)
         || jsonb_build_object('prompt', (select to_jsonb(p) from public.resolve_prompt_v1('checkin_analysis') p));
end;
$$;
comment on function public.checkin_analysis_context_v1(bigint, text) is
  'Workers: a check-in with its form, guidelines, recent check-ins, memory and the analysis prompt. '
  'service_role only.';

create function public.complete_checkin_analysis_v1(
  p_job_id bigint,
  p_worker text,
  p_summary text,
  p_insights jsonb,
  p_model text,
  p_prompt_version text,
  p_input_tokens integer default 0,
  p_output_tokens integer default 0,
  p_cache_read_tokens integer default 0,
  p_cache_write_tokens integer default 0
) returns public.checkins
  language plpgsql
  set search_path = ''
as $$
declare
  checkin public.checkins := internal.leased_checkin(p_job_id, p_worker, 'checkin_analysis');
  job internal.jobs;
begin
  select * into job from internal.jobs where id = p_job_id;
  update public.checkins
     set summary = p_summary, insights = p_insights, analyzed_at = now(),
         analysis_model = p_model, analysis_prompt_version = p_prompt_version
   where id = checkin.id
  returning * into checkin;
  perform internal.record_usage(job, checkin.user_id, checkin.id, p_model, p_prompt_version,
                                p_input_tokens, p_output_tokens, p_cache_read_tokens, p_cache_write_tokens);
  perform internal.enqueue_job(
    'recommendations',
    jsonb_build_object('checkin_id', checkin.id, 'user_id', checkin.user_id),
    'recommendations:' || checkin.id::text,
    'user:' || checkin.user_id::text
  );
  perform public.complete_job_v1(p_job_id, p_worker, jsonb_build_object('checkin_id', checkin.id));
  return checkin;
end;
$$;
comment on function public.complete_checkin_analysis_v1 is
  'Workers: store a check-in''s summary and insights, record usage, queue its recommendations and finish '
  'the job, atomically. service_role only.';

create function public.recommendations_context_v1(p_job_id bigint, p_worker text) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  checkin public.checkins := internal.leased_checkin(p_job_id, p_worker, 'recommendations');
begin
  return internal.checkin_context(checkin) || jsonb_build_object(
    'prompt', (select to_jsonb(p) from public.resolve_prompt_v1('recommendations') p),
    'open_recommendations', coalesce((
      select jsonb_agg(jsonb_build_object('title', r.title, 'status', r.status) order by r.created_at)
        from public.recommendations r
       where r.user_id = checkin.user_id and r.status in ('new', 'accepted')
    ), '[]'::jsonb),
    'max_recommendations', coalesce((select (s.value #>> '{}')::integer from internal.settings s
                                      where s.key = 'recommendations.max_per_checkin'), 3)
  );
end;
$$;
comment on function public.recommendations_context_v1(bigint, text) is
  'Workers: an analysed check-in, the user''s open recommendations and the recommendations prompt. '
  'service_role only.';

-- Insert the recommendations (a JSON array of {title, body, why, how, importance}); one the user already
-- has open with the same title (ignoring case and spacing) is skipped. Returns how many were added.
create function public.complete_recommendations_v1(
  p_job_id bigint,
  p_worker text,
  p_items jsonb,
  p_model text,
  p_prompt_version text,
  p_input_tokens integer default 0,
  p_output_tokens integer default 0,
  p_cache_read_tokens integer default 0,
  p_cache_write_tokens integer default 0
) returns integer
  language plpgsql
  set search_path = ''
as $$
declare
  checkin public.checkins := internal.leased_checkin(p_job_id, p_worker, 'recommendations');
  job internal.jobs;
  added integer;
begin
  if jsonb_typeof(p_items) <> 'array' then
    raise exception 'p_items must be a JSON array' using errcode = '22023';
  end if;
  select * into job from internal.jobs where id = p_job_id;
  with items as (
    select distinct on (lower(regexp_replace(btrim(i ->> 'title'), '\s+', ' ', 'g')))
           btrim(i ->> 'title') as title, coalesce(i ->> 'body', '') as body, coalesce(i ->> 'why', '') as why,
           coalesce(i ->> 'how', '') as how, coalesce((i ->> 'importance')::smallint, 3) as importance, ord
      from jsonb_array_elements(p_items) with ordinality as t(i, ord)
     order by lower(regexp_replace(btrim(i ->> 'title'), '\s+', ' ', 'g')), ord
  ), inserted as (
    insert into public.recommendations (user_id, checkin_id, category_id, title, body, why, how, importance,
                                        source, model, prompt_version)
    select checkin.user_id, checkin.id, checkin.category_id, i.title, i.body, i.why, i.how, i.importance,
           'checkin', p_model, p_prompt_version
      from items i
     where not exists (
       select 1 from public.recommendations r
        where r.user_id = checkin.user_id and r.status in ('new', 'accepted')
          and lower(regexp_replace(btrim(r.title), '\s+', ' ', 'g'))
              = lower(regexp_replace(i.title, '\s+', ' ', 'g'))
     )
     order by i.ord
    returning 1
  )
  select count(*) into added from inserted;
  perform internal.record_usage(job, checkin.user_id, checkin.id, p_model, p_prompt_version,
                                p_input_tokens, p_output_tokens, p_cache_read_tokens, p_cache_write_tokens);
  perform public.complete_job_v1(p_job_id, p_worker, jsonb_build_object('added', added));
  return added;
end;
$$;
comment on function public.complete_recommendations_v1 is
  'Workers: add a check-in''s recommendations (skipping titles the user already has open), record usage and '
  'finish the job, atomically. service_role only.';

revoke execute on function public.checkin_analysis_context_v1(bigint, text), public.complete_checkin_analysis_v1,
  public.recommendations_context_v1(bigint, text), public.complete_recommendations_v1
  from public, anon, authenticated;
grant execute on function public.checkin_analysis_context_v1(bigint, text), public.complete_checkin_analysis_v1,
  public.recommendations_context_v1(bigint, text), public.complete_recommendations_v1
  to service_role;
