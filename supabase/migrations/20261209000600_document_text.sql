-- =====================================================================================================
-- A document's own words are searchable. The analysis read a PDF's text and kept only what the model
-- made of it, so a member searching for a word the document uses (a clinic's name, a term in a report)
-- found it only if the analysis had quoted it. Now the text read for the analysis (PDFs; a picture has
-- none) is kept on the document, readable by the child's members as the rest of the row, written only by
-- the analysis, and is part of what the document's knowledge chunks hold.
-- =====================================================================================================

alter table public.documents add column text_content text;
alter table public.documents add constraint documents_text_content_at_most_200000_characters
  check (char_length(text_content) <= 200000);
comment on column public.documents.text_content is
  'The text read from the file for its analysis (PDFs, up to documents.max_characters; null for a picture or '
  'before the analysis). Written by the analysis; searchable by the child''s members.';

create or replace function internal.document_analysis_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
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

create or replace function internal.documents_document(p_id uuid) returns jsonb
  language sql
  stable
  set search_path = ''
as $$
  select jsonb_build_object(
           'owner_id', null, 'child_id', d.child_id,
           'title', 'Document: ' || c.name || ', ' || d.filename,
           'text', concat_ws(E'\n\n',
             d.analysis ->> 'summary',
             (select 'What it states:' || E'\n' || string_agg(
                       '- ' || coalesce((o.value ->> 'area') || ': ', '') || (o.value ->> 'observation')
                       || coalesce(' ("' || nullif(o.value ->> 'evidence', '') || '")', ''), E'\n' order by o.n)
                from jsonb_array_elements(case when jsonb_typeof(d.analysis -> 'observations') = 'array'
                                               then d.analysis -> 'observations' else '[]' end)
                     with ordinality as o(value, n)
               where jsonb_typeof(o.value) = 'object' and o.value ->> 'observation' is not null),
             (select 'It recommends: ' || string_agg(r.value, '; ' order by r.n)
                from jsonb_array_elements_text(case when jsonb_typeof(d.analysis -> 'recommendations_in_document') = 'array'
                                                    then d.analysis -> 'recommendations_in_document' else '[]' end)
                     with ordinality as r(value, n)),
             (select 'Professions it points to: ' || string_agg(replace(s.value, '_', ' '), ', ' order by s.n)
                from jsonb_array_elements_text(case when jsonb_typeof(d.analysis -> 'specialties_to_consult') = 'array'
                                                    then d.analysis -> 'specialties_to_consult' else '[]' end)
                     with ordinality as s(value, n)),
             'The document''s text:' || E'\n' || nullif(btrim(d.text_content), '')),
           'metadata', jsonb_build_object('document_type', d.type, 'filename', d.filename, 'analyzed_at', d.analyzed_at))
    from public.documents d join public.children c on c.id = d.child_id
   where d.id = p_id and d.status = 'analyzed' and jsonb_typeof(d.analysis) = 'object'
$$;

comment on function internal.documents_document(uuid) is
  'Knowledge source documents: an analysed document of a child as its analysis describes it (summary, '
  'observations with their quotes, recommendations, professions) and the text read from it; null until it is '
  'analysed (child-scoped).';
