-- =====================================================================================================
-- Job kind `document_analysis`: a child's document becomes structured observations.
--
--   trigger   a documents row queues one job (documents_enqueue_analysis, 20261207000300_child_files)
--   context   internal.document_analysis_context: the document (status set to processing), its object's
--             stored size and type, the child (name, age in months), the uploader's language, the limits
--             (internal.settings documents.*) and the prompt; {"document": null} once it was deleted
--   worker    workers/kinds/document_analysis.py: downloads the file (service role), checks its bytes are
--             what the row claims and within the limits, reads a PDF's text (pypdf) or shows an image to
--             the model, which answers through record_document_analysis (schema from the output model)
--   output    {findings: {summary, document_kind, language, observations, recommendations_in_document,
--             specialties_to_consult}, pages, characters} or {error: why, for the family} or {skipped}
--   finish    internal.document_analysis_finish: status analyzed with the analysis (or error with its
--             message), and the journey's documents and analysis progress and artifact
-- =====================================================================================================

create function internal.document_analysis_context(p_job internal.jobs) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  document public.documents;
begin
  update public.documents d set status = 'processing'
   where d.id = (p_job.payload ->> 'document_id')::uuid and d.status in ('uploaded', 'processing')
  returning * into document;
  if not found then
    return jsonb_build_object('document', null);  -- deleted (or already done): nothing to analyse
  end if;
  return jsonb_build_object(
    'document', jsonb_build_object('id', document.id, 'child_id', document.child_id, 'type', document.type,
                                   'filename', document.filename, 'storage_path', document.storage_path,
                                   'mime_type', document.mime_type, 'size_bytes', document.size_bytes),
    'stored', (select jsonb_build_object('size', (o.metadata ->> 'size')::bigint, 'mimetype', o.metadata ->> 'mimetype')
                 from storage.objects o where o.bucket_id = 'child-documents' and o.name = document.storage_path),
    'child', internal.child_brief(document.child_id),
    'locale', coalesce((select p.locale from public.profiles p where p.id = document.uploaded_by), 'en'),
    'limits', jsonb_build_object('max_bytes', internal.setting('documents.max_bytes', '20971520'),
                                 'max_pages', internal.setting('documents.max_pages', '40'),
                                 'max_characters', internal.setting('documents.max_characters', '60000')),
    'prompt', internal.resolve_prompt('document_analysis')
  );
end;
$$;
comment on function internal.document_analysis_context(internal.jobs) is
  'Job kind document_analysis: the document (now processing), its stored object, the child, the language, limits, prompt.';

create function internal.document_analysis_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  document_id uuid := (p_job.payload ->> 'document_id')::uuid;
  stamp record := internal.last_call(p_usage);
  document public.documents;
begin
  if p_output ->> 'error' is not null then
    update public.documents set status = 'error', error_message = left(p_output ->> 'error', 1000), analysis = null,
                                text_content = null
     where id = document_id returning * into document;
  elsif jsonb_typeof(p_output -> 'findings') = 'object' then
    if jsonb_typeof(p_output #> '{findings,summary}') <> 'string' then
      raise exception 'document_analysis output: findings.summary must be a string' using errcode = '22023';
    end if;
    update public.documents
       set status = 'analyzed', error_message = null, analyzed_at = now(),
           analysis = (p_output -> 'findings') || jsonb_strip_nulls(jsonb_build_object('pages', p_output -> 'pages',
                                                                                      'characters', p_output -> 'characters')),
           analysis_model = stamp.model || ' ' || stamp.prompt_version,
           text_content = left(nullif(p_output ->> 'text', ''), 200000)
     where id = document_id returning * into document;
    if found then
      perform internal.journey_after_file_analysis(document.child_id, 'document_analysis', document.id,
                                                   document.filename, p_job.id);
    end if;
  end if;
  return jsonb_build_object('subject_id', document_id, 'status', document.status);
end;
$$;
comment on function internal.document_analysis_finish(internal.jobs, jsonb, jsonb) is
  'Job kind document_analysis: store the analysis (or the error) and the text read on the document; move the '
  'journey on.';

revoke execute on function internal.document_analysis_context(internal.jobs),
  internal.document_analysis_finish(internal.jobs, jsonb, jsonb) from public, anon, authenticated;
grant execute on function internal.document_analysis_context(internal.jobs),
  internal.document_analysis_finish(internal.jobs, jsonb, jsonb) to service_role;

insert into internal.prompt_kinds (name, description) values
  ('document_analysis', 'Observations from a child''s document: its text or its image (tool record_document_analysis).'),
  ('video_analysis', 'Observations from frames of a child''s video (tool record_video_analysis).')
on conflict (name) do nothing;

insert into internal.job_kinds (name, description, prompt_kind, streams, context_function, finish_function, max_attempts,
                                metered)
values (
  'document_analysis',
  'Analyses a child''s document (a PDF''s text, or an image shown to the model) into structured observations on '
  'the documents row; a file that is not what it claims, too large or unreadable ends in status error.',
  'document_analysis', false,
  'internal.document_analysis_context(internal.jobs)', 'internal.document_analysis_finish(internal.jobs, jsonb, jsonb)', 3,
  true  -- an AI request the user asked for: counted against their limits (20261206000130_usage_limits)
);

insert into internal.prompts (name, kind, description) values
  ('document_analysis', 'document_analysis',
   'Reads a document about a child; answers through record_document_analysis. Placeholders: child, document_type, '
   'filename, content, locale.')
on conflict (name) do nothing;

insert into internal.prompt_versions (prompt_name, version, template, model, max_tokens, temperature, is_active, change_note)
values (
  'document_analysis', 1, $prompt$A family uploaded a document about their child to a child-development journey app. Read it carefully,
as an experienced developmental professional would before meeting the family, and record what it says.

The child: {{child}}
The family filed it as: {{document_type}} ("{{filename}}")

The document:
{{content}}

Call the record_document_analysis tool with:
- summary: two to four sentences for the parents, in plain words and in their language ({{locale}}): what
  the document is and what it says about the child.
- document_kind: what the document actually is (diagnosis, report, medical or other).
- language: the document's own language (ISO 639-1, e.g. he, en, ar).
- observations: what the document states about the child, each with its area and, as evidence, a short
  quote from the document. Only what is written there.
- recommendations_in_document: what the document itself recommends, if anything.
- specialties_to_consult: only the professions the document names or clearly points to.
Never add a diagnosis, label or prediction that the document does not state. If the document is not about a
child's development or health, say so in the summary and record no observations.$prompt$, null, 1500, 0.20, true, 'First version.'
)
on conflict (prompt_name, version) do nothing;

insert into internal.prompt_assignments (kind, coach_id, prompt_name) values ('document_analysis', null, 'document_analysis')
on conflict (kind, coach_id) do nothing;
