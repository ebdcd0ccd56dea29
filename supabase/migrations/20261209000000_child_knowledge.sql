-- =====================================================================================================
-- Child-scoped knowledge: a child's journal entries and analysed documents become searchable by the
-- child's members, and by nobody else, through the one membership helper (access.member_child_ids).
--
--   sources    journal_entries (what the family wrote) and documents (an analysed document: the summary,
--              the observations with their quotes, its recommendations and the professions it points to;
--              the document's own text is not kept). Their document functions return child_id, never an
--              owner; a child's new name re-embeds its rows (their titles name the child)
--   read       a select policy on knowledge_chunks through the helper, as every child-scoped policy: a
--              member reads the child's chunks from their next statement on, a removed one no longer does
--   search     search_knowledge and tools.word_matches gain a child side, read through the child_id
--              indexes with the caller's children as keys (a user with none skips it); p_child_id narrows
--              it to one child. A reply in a conversation about a child, and the coach's search tool
--              there, search only that child's chunks (among the child-scoped ones)
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

-- What an analysis says, as text: the document itself is read by the analysis and not kept.
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
                     with ordinality as s(value, n))),
           'metadata', jsonb_build_object('document_type', d.type, 'filename', d.filename, 'analyzed_at', d.analyzed_at))
    from public.documents d join public.children c on c.id = d.child_id
   where d.id = p_id and d.status = 'analyzed' and jsonb_typeof(d.analysis) = 'object'
$$;
comment on function internal.documents_document(uuid) is
  'Knowledge source documents: an analysed document of a child as its analysis describes it (summary, '
  'observations with their quotes, recommendations, professions); null until it is analysed (child-scoped).';

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
  perform internal.enqueue_job(
            'knowledge_embedding',
            jsonb_build_object('source', r.source, 'source_id', r.id, 'user_id', r.user_id),
            format('knowledge_embedding:%s:%s:%s', r.source, r.id, pg_catalog.txid_current()),
            format('knowledge:%s:%s', r.source, r.id))
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
-- rls and indexes: the child's members read its chunks
-- -----------------------------------------------------------------------------------------------------
create policy "Members read their children's knowledge chunks" on public.knowledge_chunks for select to authenticated
  using (child_id = any ((select access.member_child_ids('viewer'))::uuid[]));

-- The vectors by scope, each in one covering index with what RLS and search read, for index-only scans:
-- a user's (knowledge_chunks_vectors_idx), the shared corpus's, a child's. Child-scoped chunks have no
-- owner: in knowledge_chunks_vectors_idx as it was (every row up to 640 dimensions) they shared the key
-- owner_id null with the shared corpus, so the shared side of every search read past every family's
-- chunks, or the planner (taking owner_id null for child rows and shared ones alike) left the index for the
-- table. knowledge_chunks_child_id_idx and knowledge_chunks_shared_idx serve larger vectors and the words.
drop index public.knowledge_chunks_vectors_idx;
create index knowledge_chunks_vectors_idx on public.knowledge_chunks (owner_id, model)
  include (id, source, child_id, embedding) where owner_id is not null and dimensions <= 640;
create index knowledge_chunks_shared_vectors_idx on public.knowledge_chunks (model)
  include (id, source, owner_id, child_id, embedding) where owner_id is null and child_id is null and dimensions <= 640;
create index knowledge_chunks_child_vectors_idx on public.knowledge_chunks (child_id, model)
  include (id, source, owner_id, embedding) where child_id is not null and dimensions <= 640;

comment on table public.knowledge_chunks is
  'Searchable pieces of what users and operators wrote (notes, reflections, a child''s journal and documents, '
  'guidelines, ...), one row per chunk and embedding model. Written by workers; read with rpc("search_knowledge") '
  'or directly, under RLS: a user reads their own chunks, their children''s (as a member, through '
  'access.member_child_ids) and the shared corpus (owner_id and child_id null).';

-- -----------------------------------------------------------------------------------------------------
-- search: the child side
-- -----------------------------------------------------------------------------------------------------
-- The children a search covers: the caller's (the policies' helper), or the one asked for if the caller is
-- its member. Keys for the child_id indexes; RLS decides what is read either way.
create function tools.search_children(p_child_id uuid) returns uuid[]
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  mine uuid[] := access.member_child_ids('viewer');
begin
  if p_child_id is null then
    return mine;
  end if;
  return case when p_child_id = any (mine) then array[p_child_id] else '{}'::uuid[] end;
end;
$$;
comment on function tools.search_children(uuid) is
  'The children a search covers: the caller''s (access.member_child_ids), or only p_child_id if theirs.';

-- As before (20261208000000_knowledge), plus the caller's children's chunks (security definer for the plan
-- alone: it restates the policies, the helper included, and returns ids that search_knowledge reads under
-- RLS). p_child_id narrows the child side to one child.
drop function tools.word_matches(tsquery, text, text[], boolean, integer);
create function tools.word_matches(p_words tsquery, p_model text, p_sources text[], p_include_shared boolean,
                                   p_limit integer, p_child_id uuid default null)
  returns table (id uuid, relevance real)
  language plpgsql
  stable
  security definer
  set search_path = ''
  set plan_cache_mode = 'force_custom_plan'
as $$
#variable_conflict use_column
declare
  me uuid := (select auth.uid());
  children uuid[] := tools.search_children(p_child_id);
begin
  return query
  select c.id, pg_catalog.ts_rank_cd(c.fts, p_words)
    from public.knowledge_chunks c
   where c.fts operator(pg_catalog.@@) p_words
     and c.model = p_model
     and (c.owner_id = me or (p_include_shared and c.owner_id is null and c.child_id is null)
          or c.child_id = any (children))
     and (p_sources is null or c.source = any (p_sources))
   order by 2 desc, 1
   limit least(greatest(p_limit, 1), 100);
end;
$$;
comment on function tools.word_matches(tsquery, text, text[], boolean, integer, uuid) is
  'search_knowledge''s full-text ranking: ids of the caller''s own, their children''s (p_child_id: one of them) and '
  'shared chunks matching the words (planned for the caller; the rows are then read under RLS).';

drop function public.search_knowledge(text, extensions.vector, integer, text[], boolean, text);
--   p_query            the words (full-text; may be null when an embedding is given)
--   p_query_embedding  the query embedded by p_model (null: full-text only)
--   p_model            the model of p_query_embedding (default: the serving model)
--   p_sources          only these sources (e.g. {notes}); null: all
--   p_include_shared   also search the operators' shared corpus
--   p_child_id         of the child-scoped chunks, only this child's (null: every child the caller shares)
-- Returns the best p_match_count chunks (at most 50): similarity (1 - cosine distance) and score
-- (reciprocal rank fusion of the two rankings, k = 50).
create function public.search_knowledge(
  p_query text default null,
  p_query_embedding extensions.vector default null,
  p_match_count integer default 8,
  p_sources text[] default null,
  p_include_shared boolean default true,
  p_model text default null,
  p_child_id uuid default null
) returns table (
  chunk_id uuid, source text, source_id uuid, chunk_index integer, title text, content text, metadata jsonb,
  shared boolean, child_id uuid, similarity double precision, score double precision
)
  language plpgsql
  stable
  security invoker
  set search_path = ''
  -- Planned for the caller's own values (20261208000000_knowledge: a generic plan takes every user for the
  -- average one).
  set plan_cache_mode = 'force_custom_plan'
as $$
#variable_conflict use_column
declare
  me uuid := (select auth.uid());
  model_name text := coalesce(p_model, tools.serving_embedding_model());
  wanted integer := least(greatest(coalesce(p_match_count, 8), 1), 50);
  words tsquery := tools.any_words_query(p_query);
  children uuid[] := tools.search_children(p_child_id);
  bitmaps text := current_setting('enable_bitmapscan');
  covered text;
  near_ids uuid[] := '{}';
  near_similarities double precision[] := '{}';
  word_ids uuid[] := '{}';
begin
  -- By meaning: the exact nearest of the caller's own rows, of the shared ones and of their children's,
  -- each side read in order of its key from its covering index (knowledge_chunks_vectors_idx,
  -- knowledge_chunks_shared_vectors_idx, knowledge_chunks_child_vectors_idx), an index-only scan: a user's
  -- (a child's) vectors sit together there, where the table has them scattered among everyone's. Bitmap
  -- scans are off for this statement only, or the planner would fetch every row from the table instead. A
  -- caller with no children has no child side at all.
  if p_query_embedding is not null then
    perform set_config('enable_bitmapscan', 'off', true);
    -- the covering indexes hold vectors of up to 640 dimensions (a btree entry is at most ~2.7 kB)
    covered := case when extensions.vector_dims(p_query_embedding) <= 640 then 'and c.dimensions <= 640' else '' end;
    -- Stored embeddings are unit vectors, so the nearest by cosine are those of the largest inner product
    -- (<#> is its negation): one pass over each vector instead of three; similarity divides by |query|.
    execute format($sql$
      select coalesce(array_agg(n.id order by n.distance, n.id), '{}'),
             coalesce(array_agg(-n.distance / $7 order by n.distance, n.id), '{}')
        from (select u.id, u.distance from (
                (select c.id, c.embedding operator(extensions.<#>) $1 as distance
                   from public.knowledge_chunks c
                  where c.owner_id = $2 and c.model = $3 and ($4 is null or c.source = any ($4)) %1$s
                  order by 2 limit $5)
                union all
                (select c.id, c.embedding operator(extensions.<#>) $1
                   from public.knowledge_chunks c
                  where $6 and c.owner_id is null and c.child_id is null and c.model = $3
                    and ($4 is null or c.source = any ($4)) %1$s
                  order by 2 limit $5)
                %2$s) u
               order by u.distance limit $5) n$sql$,
      covered,
      case when cardinality(children) > 0 then format($child$
                union all
                (select c.id, c.embedding operator(extensions.<#>) $1
                   from public.knowledge_chunks c
                  where c.child_id = any ($8) and c.model = $3 and ($4 is null or c.source = any ($4)) %s
                  order by 2 limit $5)$child$, covered) else '' end)
      into near_ids, near_similarities
      using p_query_embedding, me, model_name, p_sources, wanted * 2, p_include_shared,
            greatest(extensions.vector_norm(p_query_embedding), 1e-12), children;
    perform set_config('enable_bitmapscan', bitmaps, true);
  end if;
  -- By words: the best-ranked matching ids (tools.word_matches), kept below only if RLS lets the caller
  -- read them.
  if words is not null then
    select coalesce(array_agg(m.id order by m.relevance desc, m.id), '{}') into word_ids
      from tools.word_matches(words, model_name, p_sources, p_include_shared, wanted * 2, p_child_id) m;
  end if;
  -- Fused by reciprocal rank (k = 50).
  return query
  with semantic as (
    select s.id, s.similarity, s.rank from unnest(near_ids, near_similarities) with ordinality as s(id, similarity, rank)
  ),
  full_text as (
    select f.id, f.rank from unnest(word_ids) with ordinality as f(id, rank)
  ),
  fused as (
    select coalesce(s.id, f.id) as id, s.similarity,
           coalesce(1.0 / (50 + s.rank), 0.0) + coalesce(1.0 / (50 + f.rank), 0.0) as score
      from semantic s full join full_text f on f.id = s.id
  )
  select c.id, c.source, c.source_id, c.chunk_index, c.title, c.content, c.metadata,
         c.owner_id is null and c.child_id is null, c.child_id, u.similarity::double precision,
         u.score::double precision
    from public.knowledge_chunks c join fused u on u.id = c.id
   where c.id = any (near_ids || word_ids)  -- found by primary key (a join alone may read all the caller's rows)
   order by u.score desc, u.similarity desc nulls last, c.id
   limit wanted;
end;
$$;
comment on function public.search_knowledge(text, extensions.vector, integer, text[], boolean, text, uuid) is
  'Signed-in users (and the coach''s tools, as the user): search what the caller may read — their own notes, '
  'reflections, ..., the journal and documents of the children they share (p_child_id: of one child) and the '
  'shared corpus — by meaning (an embedding by the serving model) and by words, fused. SECURITY INVOKER: RLS '
  'decides. Full-text only without an embedding.';

revoke execute on function public.search_knowledge(text, extensions.vector, integer, text[], boolean, text, uuid),
  tools.word_matches(tsquery, text, text[], boolean, integer, uuid), tools.search_children(uuid)
  from public, anon;
grant execute on function public.search_knowledge(text, extensions.vector, integer, text[], boolean, text, uuid),
  tools.word_matches(tsquery, text, text[], boolean, integer, uuid), tools.search_children(uuid)
  to authenticated, service_role;

-- -----------------------------------------------------------------------------------------------------
-- replies: a conversation about a child searches that child's chunks (of the child-scoped ones)
-- -----------------------------------------------------------------------------------------------------
-- As in 20261208000300_second_brain (same signature and contract), with the conversation's child passed
-- to search_knowledge, so a reply about one child never cites another's journal.
create or replace function public.retrieve_for_reply_v1(
  p_job_id bigint, p_worker text, p_query text, p_embedding jsonb, p_model text, p_options jsonb default '{}'
) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.leased_job(p_job_id, p_worker, 'chat_reply');
  reply_id uuid := (job.payload ->> 'assistant_message_id')::uuid;
  about_child uuid := (select c.child_id from public.conversations c
                        where c.id = (job.payload ->> 'conversation_id')::uuid);
  prior_role text := current_setting('role');
  prior_claims text := coalesce(current_setting('request.jwt.claims', true), '');
  found jsonb;
begin
  if not exists (select 1 from internal.reply_sources s where s.message_id = reply_id and s.via = 'retrieval') then
    perform set_config('request.jwt.claims', jsonb_build_object(
      'sub', job.payload ->> 'user_id', 'role', 'authenticated', 'aud', 'authenticated')::text, true);
    perform set_config('role', 'authenticated', true);
    begin
      select coalesce(jsonb_agg(to_jsonb(r) - 'chunk_index' order by r.score desc), '[]') into found
        from public.search_knowledge(
               p_query,
               case when jsonb_typeof(p_embedding) = 'array' then (p_embedding::text)::extensions.vector end,
               coalesce((p_options ->> 'count')::integer, 6),
               case when jsonb_typeof(p_options -> 'sources') = 'array'
                    then array(select jsonb_array_elements_text(p_options -> 'sources')) end,
               coalesce((p_options ->> 'include_shared')::boolean, true),
               p_model,
               about_child) r;
      perform tools.add_reply_sources(reply_id, found, 'retrieval', null);
    exception when others then
      perform set_config('role', prior_role, true);
      perform set_config('request.jwt.claims', prior_claims, true);
      raise;
    end;
    perform set_config('role', prior_role, true);
    perform set_config('request.jwt.claims', prior_claims, true);
  end if;
  return (select coalesce(jsonb_agg(internal.reply_source_json(s) order by s.ref), '[]')
            from internal.reply_sources s where s.message_id = reply_id);
end;
$$;
comment on function public.retrieve_for_reply_v1(bigint, text, text, jsonb, text, jsonb) is
  'Workers (chat_reply): search for the user''s message as the user (RLS; in a conversation about a child, only '
  'that child''s child-scoped chunks), store the results as the reply''s numbered sources, return all its '
  'sources. Idempotent per reply. Refused without the lease. service_role only.';

create or replace function tools.search_knowledge(p_ctx jsonb, p_input jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  model_name text := tools.serving_embedding_model();
  -- the conversation's child (read as the user, like everything a tool reads)
  about_child uuid := (select c.child_id from public.conversations c where c.id = (p_ctx ->> 'conversation_id')::uuid);
  found jsonb;
begin
  select coalesce(jsonb_agg(to_jsonb(r) order by r.score desc), '[]') into found
    from public.search_knowledge(
           p_input ->> 'query',
           tools.query_embedding(model_name, p_input ->> 'query'),
           coalesce((p_input ->> 'limit')::integer, 6),
           case when jsonb_typeof(p_input -> 'sources') = 'array'
                then array(select jsonb_array_elements_text(p_input -> 'sources')) end,
           true, model_name, about_child) r;
  found := tools.add_reply_sources((p_ctx ->> 'message_id')::uuid, found, 'tool', (p_ctx ->> 'tool_call_id')::uuid);
  return jsonb_build_object('result', jsonb_build_object(
    'results', (select coalesce(jsonb_agg(jsonb_build_object(
                  'ref', f.value -> 'ref', 'chunk_id', f.value -> 'chunk_id', 'source', f.value -> 'source',
                  'source_id', f.value -> 'source_id',
                  'title', f.value -> 'title', 'text', f.value -> 'content') order by f.n), '[]')
                  from jsonb_array_elements(found) with ordinality as f(value, n)),
    'note', 'Cite what you use as [ref].'));
end;
$$;

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
