-- =====================================================================================================
-- Reports: what the journey gathered, written for the family or for professionals, as structured content
-- and a PDF.
--
--   table     reports: a caregiver asks for one (variant parent | professional, language, an optional
--             focus); members read it; the PDF is in the child-reports bucket (members download it through
--             a short-lived signed URL; share links hand it to professionals, 20261207000800)
--   trigger   a reports row queues one journey_report job
--   context   internal.journey_report_context: the report (status generating), the child, the journey, the
--             analysed documents and videos, the latest journal entries, the prompt
--   worker    workers/kinds/journey_report.py: the model writes the content through record_report (schema
--             from the output model); typst renders it to PDF (right to left for Hebrew, Arabic, ...);
--             the PDF is uploaded to child-reports/<child_id>/<report_id>.pdf
--   finish    internal.journey_report_finish: content, PDF path, status ready (or error); the report as a
--             journey artifact
-- =====================================================================================================

create type public.report_variant as enum ('parent', 'professional');
comment on type public.report_variant is
  'parent: written to the family, warm and plain; professional: written to clinicians, precise, with the '
  'observations and their sources.';

create type public.report_status as enum ('queued', 'generating', 'ready', 'error');
comment on type public.report_status is
  'queued: waiting for a worker; generating: being written and rendered; ready: content and PDF are there; '
  'error: it could not be written (error_message).';

create table public.reports (
  id uuid primary key default gen_random_uuid(),
  child_id uuid not null references public.children (id) on delete cascade,
  requested_by uuid default auth.uid() references auth.users (id) on delete set null,
  variant public.report_variant not null default 'parent',
  language text not null default 'en',
  focus text not null default '',
  status public.report_status not null default 'queued',
  content jsonb,
  storage_path text,
  error_message text,
  model text,
  created_at timestamptz not null default now(),
  ready_at timestamptz,
  updated_at timestamptz not null default now(),
  constraint reports_id_child_id_key unique (id, child_id),
  constraint reports_language_bcp47 check (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
  constraint reports_focus_at_most_1000_characters check (char_length(focus) <= 1000),
  constraint reports_content_is_an_object check (jsonb_typeof(content) = 'object'),
  constraint reports_storage_path_in_the_childs_folder check (storage_path like child_id::text || '/_%'),
  constraint reports_ready_with_content_and_pdf check (status <> 'ready' or (content is not null and storage_path is not null)),
  constraint reports_error_message_at_most_1000_characters check (char_length(error_message) <= 1000)
);
comment on table public.reports is
  'Reports about a child''s journey, for the family or for professionals: structured content and a PDF in the '
  'child-reports bucket, written by a worker. Members read them; owners and caregivers ask for and delete them.';
comment on column public.reports.id is 'Report id.';
comment on column public.reports.child_id is 'The child.';
comment on column public.reports.requested_by is 'Who asked for it (defaults to the caller).';
comment on column public.reports.variant is 'parent or professional; see the type report_variant.';
comment on column public.reports.language is 'The language it is written in (BCP 47, e.g. he, en); he and ar set right to left.';
comment on column public.reports.focus is 'What the family wants it to focus on, if anything (at most 1,000 characters).';
comment on column public.reports.status is 'queued, generating, ready or error; see the type report_status.';
comment on column public.reports.content is
  'AI-owned: {title, summary, sections [{heading, body, points}], strengths, recommendations, '
  'questions_for_professionals, disclaimer}.';
comment on column public.reports.storage_path is 'AI-owned: the PDF in the child-reports bucket, <child_id>/<report id>.pdf.';
comment on column public.reports.error_message is 'Why it could not be written (status error).';
comment on column public.reports.model is 'AI-owned: the model and prompt version that wrote it.';
comment on column public.reports.created_at is 'When it was asked for.';
comment on column public.reports.ready_at is 'When it became ready.';
comment on column public.reports.updated_at is 'When it last changed.';

create index reports_child_id_idx on public.reports (child_id, created_at desc);
create index reports_requested_by_idx on public.reports (requested_by);

alter table public.reports enable row level security;
create policy "Members read their children's reports" on public.reports for select to authenticated
  using (child_id = any ((select access.member_child_ids('viewer'))::uuid[]));
create policy "Owners and caregivers ask for reports" on public.reports for insert to authenticated
  with check (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]) and requested_by = (select auth.uid()));
create policy "Owners and caregivers delete reports" on public.reports for delete to authenticated
  using (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]));

revoke all on table public.reports from public, anon, authenticated, service_role;
grant select, delete on table public.reports to authenticated;
grant insert (id, child_id, requested_by, variant, language, focus) on table public.reports to authenticated;
grant select, insert, update, delete on table public.reports to service_role;

create trigger reports_set_updated_at before update on public.reports
  for each row execute function internal.set_updated_at();

alter publication supabase_realtime add table public.reports;

create function internal.enqueue_journey_report() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  perform internal.enqueue_job(
    'journey_report',
    jsonb_build_object('report_id', new.id, 'child_id', new.child_id, 'user_id', new.requested_by),
    'journey_report:' || new.id::text,
    null
  );
  return null;
end;
$$;
comment on function internal.enqueue_journey_report() is 'Trigger: a new report queues its journey_report job.';
create trigger reports_enqueue after insert on public.reports
  for each row execute function internal.enqueue_journey_report();

create function internal.fail_dead_journey_report() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  update public.reports set status = 'error', error_message = 'The report could not be written. Please ask for it again later.'
   where id = (new.payload ->> 'report_id')::uuid and status in ('queued', 'generating');
  return null;
end;
$$;
comment on function internal.fail_dead_journey_report() is 'Trigger: a dead journey_report job marks its report failed.';
create trigger jobs_fail_dead_journey_report
  after update of status on internal.jobs
  for each row
  when (new.status = 'dead' and old.status <> 'dead' and new.kind = 'journey_report')
  execute function internal.fail_dead_journey_report();

-- -----------------------------------------------------------------------------------------------------
-- job kind journey_report
-- -----------------------------------------------------------------------------------------------------
create function internal.journey_report_context(p_job internal.jobs) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  report public.reports;
begin
  update public.reports r set status = 'generating'
   where r.id = (p_job.payload ->> 'report_id')::uuid and r.status in ('queued', 'generating')
  returning * into report;
  if not found then
    return jsonb_build_object('report', null);
  end if;
  return jsonb_build_object(
    'report', jsonb_build_object('id', report.id, 'child_id', report.child_id, 'variant', report.variant,
                                 'language', report.language, 'focus', report.focus),
    'child', internal.child_brief(report.child_id),
    'journey', (select jsonb_build_object('stage', j.stage, 'progress', j.progress, 'milestones', j.milestones,
                                          'started_at', j.started_at)
                  from public.journeys j where j.child_id = report.child_id and j.completed_at is null),
    'documents', coalesce((select jsonb_agg(jsonb_build_object('filename', d.filename, 'type', d.type,
                                                               'analysis', d.analysis) order by d.created_at)
                             from public.documents d where d.child_id = report.child_id and d.status = 'analyzed'), '[]'),
    'videos', coalesce((select jsonb_agg(jsonb_build_object('scenario', v.scenario, 'title', v.title,
                                                            'duration_seconds', v.duration_seconds,
                                                            'analysis', v.analysis) order by v.created_at)
                          from public.videos v where v.child_id = report.child_id and v.status = 'analyzed'), '[]'),
    'journal', coalesce((select jsonb_agg(jsonb_build_object('date', e.entry_date, 'content', left(e.content, 2000),
                                                             'tags', e.tags) order by e.entry_date, e.created_at)
                           from (select * from public.journal_entries x where x.child_id = report.child_id
                                  order by x.entry_date desc, x.created_at desc limit 30) e), '[]'),
    'prompt', internal.resolve_prompt('journey_report')
  );
end;
$$;
comment on function internal.journey_report_context(internal.jobs) is
  'Job kind journey_report: the report (now generating), the child, the journey, analysed files, the journal, the prompt.';

-- p_output: {"content": {...}, "storage_path": text} | {"error": text} | {"skipped": true}
create function internal.journey_report_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  report_id uuid := (p_job.payload ->> 'report_id')::uuid;
  stamp record := internal.last_call(p_usage);
  report public.reports;
begin
  if p_output ->> 'error' is not null then
    update public.reports set status = 'error', error_message = left(p_output ->> 'error', 1000)
     where id = report_id returning * into report;
  elsif jsonb_typeof(p_output -> 'content') = 'object' then
    update public.reports
       set status = 'ready', content = p_output -> 'content', storage_path = p_output ->> 'storage_path',
           error_message = null, ready_at = now(), model = stamp.model || ' ' || stamp.prompt_version
     where id = report_id returning * into report;
    if found and exists (select 1 from public.journeys j where j.child_id = report.child_id and j.completed_at is null) then
      perform internal.change_journey(report.child_id, jsonb_build_object(
        'kind', 'artifact', 'artifact_kind', 'report', 'title', left(p_output #>> '{content,title}', 200), 'status', 'ready',
        'ref_id', report.id), 'worker', null, p_job.id);
    end if;
  end if;
  return jsonb_build_object('subject_id', report_id, 'status', report.status);
end;
$$;
comment on function internal.journey_report_finish(internal.jobs, jsonb, jsonb) is
  'Job kind journey_report: store the content and the PDF''s path (or the error); the report becomes a journey artifact.';

revoke execute on function internal.enqueue_journey_report(), internal.fail_dead_journey_report(),
  internal.journey_report_context(internal.jobs), internal.journey_report_finish(internal.jobs, jsonb, jsonb)
  from public, anon, authenticated;
grant execute on function internal.journey_report_context(internal.jobs),
  internal.journey_report_finish(internal.jobs, jsonb, jsonb) to service_role;

insert into internal.prompt_kinds (name, description) values
  ('journey_report', 'A report on a child''s journey, for the family or for professionals (tool record_report).')
on conflict (name) do nothing;

insert into internal.job_kinds (name, description, prompt_kind, streams, context_function, finish_function, max_attempts,
                                metered)
values (
  'journey_report',
  'Writes a report on a child''s journey (parent or professional variant) from the journey, the analyses and the '
  'journal: structured content on the reports row and a PDF (typst, right to left where needed) in child-reports.',
  'journey_report', false,
  'internal.journey_report_context(internal.jobs)', 'internal.journey_report_finish(internal.jobs, jsonb, jsonb)', 3,
  true  -- an AI request the user asked for: counted against their limits (20261206000130_usage_limits)
);

insert into internal.prompts (name, kind, description) values
  ('journey_report', 'journey_report',
   'Writes a report on a child''s journey; answers through record_report. Placeholders: variant, language, focus, '
   'child, journey, documents, videos, journal.')
on conflict (name) do nothing;

insert into internal.prompt_versions (prompt_name, version, template, model, max_tokens, temperature, is_active, change_note)
values (
  'journey_report', 1, $prompt$Write a {{variant}} report on a child's development journey, in the language {{language}}.

- parent: written to the family, warm, clear and concrete; explain terms; end with next steps they can take.
- professional: written to clinicians (a developmental pediatrician, a speech or occupational therapist):
  precise and concise, observations grouped by area with their sources (which document, which video), and
  the questions the family would like answered.

What the family wants it to focus on: {{focus}}

The child: {{child}}
The journey so far: {{journey}}
What the family's documents say (analysed): {{documents}}
What the family's videos show (analysed): {{videos}}
The family's journal, oldest first: {{journal}}

Call the record_report tool with: title, summary, sections (each a heading, a body and optional points),
strengths, recommendations, questions_for_professionals, and a disclaimer that the report describes
observations and is not a diagnosis. Use only the data above; where it is thin, say so. Never diagnose,
label or predict; name conditions only as a document states them, attributed to that document.$prompt$,
  null, 3000, 0.30, true, 'First version.'
)
on conflict (prompt_name, version) do nothing;

insert into internal.prompt_assignments (kind, coach_id, prompt_name) values ('journey_report', null, 'journey_report')
on conflict (kind, coach_id) do nothing;
