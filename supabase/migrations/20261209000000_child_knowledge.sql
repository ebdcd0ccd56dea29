-- =====================================================================================================
-- Child-scoped knowledge: a child's journal entries and analysed documents become searchable by the
-- child's members, and by nobody else, through the one membership helper (access.member_child_ids).
--
--   sources    journal_entries (what the family wrote) and documents (an analysed document: the summary,
--              the observations with their quotes, its recommendations and the professions it points to;
--              and the text read from it). Their document functions return child_id, never an
--              owner; a child's new name re-embeds its rows (their titles name the child)
--   read       knowledge_chunks' select policy through the helper, and search's child side, are in
--              20261208000000_knowledge (the table's migration); a conversation about a child searches only
--              that child's chunks (20261208000300_second_brain)
--   coaches    the search tool's sources name journal_entries and documents; the journey coach (Lior)
--              retrieves from the conversation's child's journal and documents for each message, cites
--              them, and has the search tool
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- sources: journal entries and analysed documents
-- -----------------------------------------------------------------------------------------------------
create function internal.journal_entries_document(p_id uuid) returns jsonb
  language sql
  stable
  set search_path = ''
as $$
  select jsonb_build_object(
           'owner_id', null, 'child_id', e.child_id,
           'title', 'Journal: ' || c.name || ', ' || e.entry_date,
           'text', e.content || coalesce(E'\n\nTags: ' || nullif(array_to_string(e.tags, ', '), ''), ''),
           'metadata', jsonb_build_object('entry_date', e.entry_date, 'tags', to_jsonb(e.tags)))
    from public.journal_entries e join public.children c on c.id = e.child_id
   where e.id = p_id
$$;
comment on function internal.journal_entries_document(uuid) is
  'Knowledge source journal_entries: an entry of a child''s journal with its tags (child-scoped).';

-- What an analysis says, and the text it read (documents.text_content: a PDF's; a picture has none).
create function internal.documents_document(p_id uuid) returns jsonb
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

insert into internal.knowledge_sources (name, description, table_name, document_function) values
  ('journal_entries', 'A child''s journal (child-scoped: the child''s members may search it).',
   'public.journal_entries', 'internal.journal_entries_document(uuid)'),
  ('documents', 'A child''s analysed documents, as their analyses describe them (child-scoped: the child''s '
   'members may search them).', 'public.documents', 'internal.documents_document(uuid)');

create trigger journal_entries_knowledge_on_write after insert or update of entry_date, content, tags
  on public.journal_entries
  for each row execute function internal.queue_knowledge_embedding('journal_entries', 'id', 'author_id');
create trigger journal_entries_knowledge_on_delete after delete on public.journal_entries
  for each row execute function internal.queue_knowledge_embedding('journal_entries', 'id', 'author_id');
-- A document is searchable once analysed: its analysis (or a rename) queues the embedding; an upload does not.
create trigger documents_knowledge_on_insert after insert on public.documents
  for each row when (new.analysis is not null)
  execute function internal.queue_knowledge_embedding('documents', 'id', 'uploaded_by');
create trigger documents_knowledge_on_write after update of filename, type, analysis on public.documents
  for each row execute function internal.queue_knowledge_embedding('documents', 'id', 'uploaded_by');
create trigger documents_knowledge_on_delete after delete on public.documents
  for each row execute function internal.queue_knowledge_embedding('documents', 'id', 'uploaded_by');

-- The titles name the child: a new name re-embeds its rows (a rename is rare; each row is one job, and
-- one whose text did not change since it was embedded is skipped). Security definer: it queues jobs.
create function internal.queue_child_knowledge() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  perform internal.queue_knowledge_row(r.source, r.id, r.user_id)
     from (select 'journal_entries' as source, e.id, e.author_id as user_id
             from public.journal_entries e where e.child_id = new.id
           union all
           select 'documents', d.id, d.uploaded_by
             from public.documents d where d.child_id = new.id and d.status = 'analyzed') r;
  return null;
end;
$$;
comment on function internal.queue_child_knowledge() is
  'Trigger: a child''s new name re-embeds its journal entries and documents (their titles name the child).';
create trigger children_knowledge_on_rename after update of name on public.children
  for each row when (old.name is distinct from new.name) execute function internal.queue_child_knowledge();

revoke execute on function internal.journal_entries_document(uuid), internal.documents_document(uuid),
  internal.queue_child_knowledge() from public, anon, authenticated;
grant execute on function internal.journal_entries_document(uuid), internal.documents_document(uuid) to service_role;

-- -----------------------------------------------------------------------------------------------------
-- the search tool names the new sources (search itself covers a child's chunks: 20261208000000_knowledge,
-- and a conversation about a child searches only that child's: 20261208000300_second_brain)
-- -----------------------------------------------------------------------------------------------------
update internal.tools
   set description = 'Search what the person wrote (notes, reflections), the journal and analysed documents of the '
                     'children they share (in a conversation about a child: that child''s), and the shared '
                     'guidelines, by meaning and words. Returns numbered sources: cite what you use as [ref]. A '
                     'document''s source is its analysis: it states observations, never a diagnosis of its own.',
       input_schema = jsonb_set(input_schema, '{properties,sources}', $json${"type": "array", "maxItems": 6,
         "uniqueItems": true, "items": {"type": "string", "enum": ["notes", "reflections", "journal_entries",
         "documents", "category_guidelines", "knowledge_articles"]}}$json$)
 where name = 'search_knowledge';

-- -----------------------------------------------------------------------------------------------------
-- the journey coach: retrieval from the child's journal and documents, the search tool, citations
-- -----------------------------------------------------------------------------------------------------
insert into internal.coach_tools (coach_id, tool_name)
select c.id, 'search_knowledge' from public.coaches c where c.slug = 'lior'
on conflict do nothing;

update internal.settings
   set value = value || '{"lior": {"count": 6, "sources": ["journal_entries", "documents"], "include_shared": false}}',
       updated_at = now()
 where key = 'reply.retrieval' and jsonb_typeof(value) = 'object' and not value ? 'lior';

update internal.prompts
   set description = 'System prompt of the journey coach''s replies, with the journey tools. Placeholders: coach_name, '
                     'coach_persona, display_name, locale, child (the child, age in months and the journey''s state), '
                     'knowledge (the journal entries and documents found for the message), user_summary, '
                     'conversation_summary, today, timezone.'
 where name = 'chat_reply.journey';

insert into internal.prompt_versions (prompt_name, version, template, model, max_tokens, temperature, is_active, change_note)
values (
  'chat_reply.journey', 2, $prompt$You are {{coach_name}}, the guide in a child-development journey app.

# Who you are
{{coach_persona}}

# How you work
- Speak the family's language: answer in the language of their last message (Hebrew, Arabic, English, ...),
  else in the language of their profile below. Keep the child's name as they write it.
- Empathy first: acknowledge feelings in a sentence before information or next steps. One question at a time.
- You never diagnose, label or predict. Do not name conditions as the child's (no "she has autism", "he is
  delayed"). Describe what was observed, what is typical at this age in general terms, and which professional
  could look more closely. Medication, therapy plans and diagnoses belong to professionals.
- The journey has stages: interview, consultation, document_upload, video_instructions, video_upload, analysis,
  report_ready, expert_search, meeting_prep, sharing. You move it with your tools, never by describing it:
  update_journey_stage when the family is ready for the next step, update_progress as you learn about an area,
  add_milestone when they complete something, add_context_card for something worth keeping beside the chat,
  trigger_deep_view to open the part of the app they need now (e.g. the video instructions).
- Use only what is in the child's data below and what the family tells you; never invent observations.
- The family's journal entries and documents found for their message are numbered below; search_knowledge finds
  more of them. When you use one, end the sentence with its number in square brackets, e.g. [1] or [2][3]; never
  invent a number. A document's entry is what its analysis recorded, not a diagnosis of yours.
- If a tool returns an error, read it and correct the call once, or tell the family plainly.

# Safety comes first
If the family describes a child in danger, abuse, a medical emergency (trouble breathing, choking, dehydration,
a serious allergic reaction, a seizure), or a caregiver at risk of harming themselves or the child, stop the
journey: tell them clearly to contact local emergency services now, with care, and do not continue as usual.

# The child and the journey
{{child}}

# From the child's journal and documents, found for this message
{{knowledge}}

# What you know about {{display_name}}
Profile language: {{locale}}
What you remember: {{user_summary}}
Earlier in this conversation: {{conversation_summary}}

Today is {{today}} ({{timezone}}).$prompt$, null, 1024, 0.50, false,
  'Sources from the child''s journal and documents ({{knowledge}}), cited as [n]; the search tool.'
)
on conflict (prompt_name, version) do nothing;
select internal.activate_prompt_version('chat_reply.journey', 2);
