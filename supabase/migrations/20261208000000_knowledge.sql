-- =====================================================================================================
-- Knowledge: what users and operators wrote, split into chunks, embedded, and searched under the
-- caller's RLS (Supabase's "automatic embeddings" shape, on coachbase's durable jobs).
--
--   sources    internal.knowledge_sources registers each searchable table with a document function
--              (row id → {owner_id, child_id, title, text | blocks, metadata}); a generic trigger on the
--              table queues a `knowledge_embedding` job after insert or update (ordered per row) and
--              deletes the row's chunks with the row
--   chunks     public.knowledge_chunks: one row per chunk and embedding model (model and dimensions
--              recorded), with a full-text vector; owner_id null and child_id null = the operators'
--              shared corpus; child_id = a child's rows (its members read them: access.member_child_ids)
--   jobs       knowledge_embedding (this migration) replaces a row's chunks in one transaction;
--              knowledge_reindex re-embeds everything with a new model in the background, while
--              search keeps using the serving one, then switches (internal.switch_embedding_model)
--   search     public.search_knowledge: SECURITY INVOKER, so RLS decides; vector similarity and
--              full-text rank fused (reciprocal rank fusion); exact distances over the caller's own,
--              their children's and the shared rows (a per-user corpus is small: bench/knowledge.py
--              measures why an approximate index, which filters after its scan, is not used)
-- Embeddings are computed by workers (shared/embeddings/): an OpenAI-compatible API when configured,
-- else an offline model shipped in a PyPI wheel. Queries embedded by a worker for the coach's search tool
-- go through internal.query_embeddings (the tool runs in SQL as the user and cannot call a model).
-- =====================================================================================================

create extension if not exists vector with schema extensions;

-- -----------------------------------------------------------------------------------------------------
-- table: knowledge_sources (the registry of searchable tables)
-- -----------------------------------------------------------------------------------------------------
create table internal.knowledge_sources (
  name text primary key,
  description text not null,
  table_name regclass not null,
  document_function regprocedure not null,
  created_at timestamptz not null default now(),
  constraint knowledge_sources_name_format check (name ~ '^[a-z][a-z0-9_]{0,62}$'),
  constraint knowledge_sources_description_1_to_2000_characters
    check (char_length(btrim(description)) between 1 and 2000)
);
comment on table internal.knowledge_sources is
  'Tables whose rows are searchable knowledge. Each has a document function and the trigger '
  'internal.queue_knowledge_embedding(source, key column, owner column); their chunks are in '
  'public.knowledge_chunks.';
comment on column internal.knowledge_sources.name is 'The source, e.g. notes; knowledge_chunks.source names one.';
comment on column internal.knowledge_sources.description is 'What its rows are and who may read their chunks.';
comment on column internal.knowledge_sources.table_name is 'The table the rows live in.';
comment on column internal.knowledge_sources.document_function is
  'internal.<source>_document(uuid) → jsonb {owner_id, child_id, title, text | blocks [{id, text}], metadata}, '
  'or null when the row is gone or not searchable.';
comment on column internal.knowledge_sources.created_at is 'When the source was registered.';

alter table internal.knowledge_sources enable row level security;
revoke all on table internal.knowledge_sources from public, anon, authenticated, service_role;
grant select on table internal.knowledge_sources to service_role;

-- -----------------------------------------------------------------------------------------------------
-- table: knowledge_chunks
-- -----------------------------------------------------------------------------------------------------
create table public.knowledge_chunks (
  id uuid primary key default gen_random_uuid(),
  source text not null references internal.knowledge_sources (name) on update cascade,
  source_id uuid not null,
  owner_id uuid references auth.users (id) on delete cascade,
  child_id uuid,
  chunk_index integer not null,
  title text not null default '',
  content text not null,
  metadata jsonb not null default '{}',
  model text not null,
  dimensions integer not null,
  embedding extensions.vector not null,
  content_hash text not null,
  fts tsvector generated always as (to_tsvector('english'::regconfig, title || ' ' || content)) stored,
  created_at timestamptz not null default now(),
  constraint knowledge_chunks_source_id_chunk_model_key unique (source, source_id, model, chunk_index),
  constraint knowledge_chunks_owner_or_child check (owner_id is null or child_id is null),
  constraint knowledge_chunks_dimensions_match check (extensions.vector_dims(embedding) = dimensions),
  constraint knowledge_chunks_chunk_index_at_least_0 check (chunk_index >= 0),
  constraint knowledge_chunks_content_1_to_4000_characters check (char_length(content) between 1 and 4000),
  constraint knowledge_chunks_metadata_is_an_object check (jsonb_typeof(metadata) = 'object')
);
comment on table public.knowledge_chunks is
  'Searchable pieces of what users and operators wrote (notes, reflections, a child''s journal and documents, '
  'guidelines, ...), one row per chunk and embedding model. Written by workers; read with rpc("search_knowledge") '
  'or directly, under RLS: a user reads their own chunks, their children''s (as a member, through '
  'access.member_child_ids) and the shared corpus (owner_id and child_id null).';
comment on column public.knowledge_chunks.id is 'Chunk id (what citations name).';
comment on column public.knowledge_chunks.source is 'The source table, e.g. notes (internal.knowledge_sources).';
comment on column public.knowledge_chunks.source_id is 'The row of the source the chunk comes from.';
comment on column public.knowledge_chunks.owner_id is 'The user it belongs to; null for shared or child-scoped knowledge.';
comment on column public.knowledge_chunks.child_id is 'The child it is about, for child-scoped sources (read by the child''s members).';
comment on column public.knowledge_chunks.chunk_index is 'Its place in the source row, 0, 1, ...';
comment on column public.knowledge_chunks.title is 'The source row''s title.';
comment on column public.knowledge_chunks.content is 'The chunk''s text (about 900 characters, overlapping its neighbours).';
comment on column public.knowledge_chunks.metadata is 'Where in the source it is, e.g. {"block_ids": [...]} for a note''s BlockNote blocks.';
comment on column public.knowledge_chunks.model is 'The embedding model, e.g. wordllama-l2-supercat-256.';
comment on column public.knowledge_chunks.dimensions is 'The embedding''s dimensions.';
comment on column public.knowledge_chunks.embedding is 'The chunk''s embedding by `model` (normalised).';
comment on column public.knowledge_chunks.content_hash is 'Hash of the source row''s text when it was embedded.';
comment on column public.knowledge_chunks.fts is 'Full-text vector (english) of title and content.';
comment on column public.knowledge_chunks.created_at is 'When the chunk was written.';

-- The embedding stays in the row (storage main): a ~900-character chunk with its full-text vector and a
-- 256-dimension embedding passes the 2 kB toast threshold, and the toaster would move the embedding, the
-- largest value, out of line — one more random read per row for every distance search computes.
alter table public.knowledge_chunks alter column embedding set storage main;

-- A user's own chunks, a child's and the shared corpus are scanned exactly (bench/knowledge.py): these
-- indexes find the rows, then distances are computed on them all.
create index knowledge_chunks_owner_id_idx on public.knowledge_chunks (owner_id, model);
create index knowledge_chunks_shared_idx on public.knowledge_chunks (model)
  where owner_id is null and child_id is null;
create index knowledge_chunks_child_id_idx on public.knowledge_chunks (child_id, model) where child_id is not null;
-- The vectors by scope, each in one covering index with what RLS and search read, for index-only scans: a
-- user's, the shared corpus's, a child's (each scope's vectors contiguous; up to 640 dimensions: a btree
-- entry is at most ~2.7 kB). Child-scoped chunks have no owner: in one index keyed by owner_id they would
-- share the key owner_id null with the shared corpus, and the shared side of every search would read past
-- every family's chunks. The indexes above serve larger vectors and the words.
create index knowledge_chunks_vectors_idx on public.knowledge_chunks (owner_id, model)
  include (id, source, child_id, embedding) where owner_id is not null and dimensions <= 640;
create index knowledge_chunks_shared_vectors_idx on public.knowledge_chunks (model)
  include (id, source, owner_id, child_id, embedding) where owner_id is null and child_id is null and dimensions <= 640;
create index knowledge_chunks_child_vectors_idx on public.knowledge_chunks (child_id, model)
  include (id, source, owner_id, embedding) where child_id is not null and dimensions <= 640;
create index knowledge_chunks_fts_idx on public.knowledge_chunks using gin (fts);

alter table public.knowledge_chunks enable row level security;
create policy "Owners read their knowledge chunks" on public.knowledge_chunks for select to authenticated
  using (owner_id = (select auth.uid()));
create policy "Signed-in users read the shared corpus" on public.knowledge_chunks for select to authenticated
  using (owner_id is null and child_id is null);
-- A child's chunks: its members, through the helper every child-scoped policy uses.
create policy "Members read their children's knowledge chunks" on public.knowledge_chunks for select to authenticated
  using (child_id = any ((select access.member_child_ids('viewer'))::uuid[]));

revoke all on table public.knowledge_chunks from public, anon, authenticated, service_role;
grant select on table public.knowledge_chunks to authenticated;
grant select, insert, update, delete on table public.knowledge_chunks to service_role;

-- -----------------------------------------------------------------------------------------------------
-- table: knowledge_index (what is embedded, per row and model: also rows that have no text)
-- -----------------------------------------------------------------------------------------------------
create table internal.knowledge_index (
  source text not null references internal.knowledge_sources (name) on update cascade,
  source_id uuid not null,
  model text not null,
  content_hash text not null,
  chunk_count integer not null,
  indexed_at timestamptz not null default now(),
  primary key (source, source_id, model)
);
comment on table internal.knowledge_index is
  'Which rows are embedded with which model and at which version of their text (content_hash); a row with '
  'no text has an entry with chunk_count 0. The re-index of a new model walks the rows missing here.';
comment on column internal.knowledge_index.source is 'The source (internal.knowledge_sources).';
comment on column internal.knowledge_index.source_id is 'The row.';
comment on column internal.knowledge_index.model is 'The embedding model.';
comment on column internal.knowledge_index.content_hash is 'Hash of the text that was embedded.';
comment on column internal.knowledge_index.chunk_count is 'How many chunks it has for that model.';
comment on column internal.knowledge_index.indexed_at is 'When it was embedded.';
create index knowledge_index_model_idx on internal.knowledge_index (model);

alter table internal.knowledge_index enable row level security;
revoke all on table internal.knowledge_index from public, anon, authenticated, service_role;
grant select, insert, update, delete on table internal.knowledge_index to service_role;

-- -----------------------------------------------------------------------------------------------------
-- table: knowledge_articles (the operators' own corpus, beside the category guidelines)
-- -----------------------------------------------------------------------------------------------------
create table internal.knowledge_articles (
  id uuid primary key default gen_random_uuid(),
  title text not null,
  body text not null,
  category_id uuid references public.categories (id) on delete set null,
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint knowledge_articles_title_1_to_300_characters check (char_length(btrim(title)) between 1 and 300),
  constraint knowledge_articles_body_1_to_200000_characters check (char_length(btrim(body)) between 1 and 200000)
);
comment on table internal.knowledge_articles is
  'Operator knowledge every signed-in user may search (e.g. nutrition guidelines): edit in Studio; saving '
  'queues its embedding, deactivating removes it from search.';
comment on column internal.knowledge_articles.id is 'Article id.';
comment on column internal.knowledge_articles.title is 'Its title (shown in citations).';
comment on column internal.knowledge_articles.body is 'Its text (plain text or markdown).';
comment on column internal.knowledge_articles.category_id is 'The category it belongs to, if any.';
comment on column internal.knowledge_articles.is_active is 'Off: not searchable (its chunks are removed).';
comment on column internal.knowledge_articles.created_at is 'When it was added.';
comment on column internal.knowledge_articles.updated_at is 'When it last changed.';
create index knowledge_articles_category_id_idx on internal.knowledge_articles (category_id);

alter table internal.knowledge_articles enable row level security;
revoke all on table internal.knowledge_articles from public, anon, authenticated, service_role;
grant select on table internal.knowledge_articles to service_role;

-- -----------------------------------------------------------------------------------------------------
-- table: query_embeddings (queries a worker embedded for the coach's search tool)
-- -----------------------------------------------------------------------------------------------------
create table internal.query_embeddings (
  model text not null,
  query_hash text not null,
  embedding extensions.vector not null,
  created_at timestamptz not null default now(),
  primary key (model, query_hash)
);
comment on table internal.query_embeddings is
  'Embeddings of search queries, put by the worker before the coach''s search tool runs (the tool runs in SQL '
  'as the user and cannot call a model). Kept a day.';
comment on column internal.query_embeddings.model is 'The embedding model.';
comment on column internal.query_embeddings.query_hash is 'md5 of the query text.';
comment on column internal.query_embeddings.embedding is 'The query''s embedding.';
comment on column internal.query_embeddings.created_at is 'When it was put.';
create index query_embeddings_created_at_idx on internal.query_embeddings (created_at);

alter table internal.query_embeddings enable row level security;
revoke all on table internal.query_embeddings from public, anon, authenticated, service_role;
grant select, insert, update, delete on table internal.query_embeddings to service_role;

-- -----------------------------------------------------------------------------------------------------
-- settings: the embedding model
-- -----------------------------------------------------------------------------------------------------
insert into internal.settings (key, value, description) values
  ('knowledge.embedding_model', '{"name": "wordllama-l2-supercat-256", "provider": "offline", "dimensions": 256}',
   'The embedding model search uses and rows are embedded with: {name, provider (offline | openai), dimensions}. '
   'Change it with select internal.switch_embedding_model(name, provider, dimensions), never by hand.'),
  ('knowledge.chunk_characters', '900', 'Target size of a knowledge chunk in characters (MiniLM-class models read ~256 tokens).'),
  ('knowledge.chunk_overlap', '120', 'Characters a chunk repeats from the end of the one before it.')
on conflict (key) do nothing;

-- The models rows are embedded with: the serving one, then the one being built (during a switch).
create function internal.embedding_models() returns jsonb
  language sql
  stable
  set search_path = ''
as $$
  select jsonb_agg(s.value order by s.key) filter (where s.value is not null)
    from internal.settings s
   where s.key in ('knowledge.embedding_model', 'knowledge.next_embedding_model')
     and jsonb_typeof(s.value) = 'object'
$$;
comment on function internal.embedding_models() is
  'The embedding models rows are embedded with: [serving, building?] as {name, provider, dimensions}.';

-- The serving model's name, for search (security definer: the caller cannot read internal.settings).
create function tools.serving_embedding_model() returns text
  language sql
  stable
  security definer
  set search_path = ''
as $$
  select s.value ->> 'name' from internal.settings s where s.key = 'knowledge.embedding_model'
$$;
comment on function tools.serving_embedding_model() is 'The name of the embedding model search uses.';

-- -----------------------------------------------------------------------------------------------------
-- documents, hashes and the trigger every source uses
-- -----------------------------------------------------------------------------------------------------
create function internal.knowledge_document(p_source text, p_source_id uuid) returns jsonb
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  fn regprocedure := (select s.document_function from internal.knowledge_sources s where s.name = p_source);
  doc jsonb;
begin
  if fn is null then
    raise exception 'knowledge source % is not registered', p_source using errcode = '22023';
  end if;
  execute format('select %s($1)', fn::regproc) into doc using p_source_id;
  return doc;
end;
$$;
comment on function internal.knowledge_document(text, uuid) is
  'A source row as a document to chunk and embed (its source''s document function); null when gone.';

create function internal.knowledge_content_hash(p_document jsonb) returns text
  language sql
  immutable
  set search_path = ''
as $$
  select md5(coalesce(p_document ->> 'title', '') || chr(31) || coalesce(p_document ->> 'text', '') || chr(31)
             || coalesce((p_document -> 'blocks')::text, '') || chr(31) || coalesce(p_document ->> 'owner_id', '')
             || chr(31) || coalesce(p_document ->> 'child_id', ''))
$$;
comment on function internal.knowledge_content_hash(jsonb) is 'The version of a document''s text (and owner): md5.';

-- A row's embedding job: one per transaction and row, run in order per row (a job whose row has not
-- changed since it was embedded does nothing). `p_user_id` is whom its model calls are counted for.
create function internal.queue_knowledge_row(p_source text, p_source_id uuid, p_user_id uuid) returns void
  language sql
  set search_path = ''
as $$
  select internal.enqueue_job(
    'knowledge_embedding',
    jsonb_build_object('source', p_source, 'source_id', p_source_id, 'user_id', p_user_id),
    format('knowledge_embedding:%s:%s:%s', p_source, p_source_id, pg_catalog.txid_current()),
    format('knowledge:%s:%s', p_source, p_source_id));
$$;
comment on function internal.queue_knowledge_row(text, uuid, uuid) is
  'Queue the embedding of one row of a knowledge source (at most one job per transaction and row).';

-- Trigger: tg_argv = (source, key column, owner column or ''). Insert and update queue the row's
-- embedding (one job per transaction and row, run in order per row; a job whose row has not changed
-- since it was embedded does nothing); delete removes the row's chunks at once.
create function internal.queue_knowledge_embedding() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  source_name text := tg_argv[0];
  row_id uuid;
  owner uuid;
begin
  if tg_op = 'DELETE' then
    row_id := (to_jsonb(old) ->> tg_argv[1])::uuid;
    delete from public.knowledge_chunks c where c.source = source_name and c.source_id = row_id;
    delete from internal.knowledge_index i where i.source = source_name and i.source_id = row_id;
    return null;
  end if;
  row_id := (to_jsonb(new) ->> tg_argv[1])::uuid;
  owner := case when coalesce(tg_argv[2], '') <> '' then (to_jsonb(new) ->> tg_argv[2])::uuid end;
  perform internal.queue_knowledge_row(source_name, row_id, owner);
  return null;
end;
$$;
comment on function internal.queue_knowledge_embedding() is
  'Trigger of every knowledge source (args: source, key column, owner column): queue the row''s embedding '
  'after insert or update, remove its chunks on delete.';

-- -----------------------------------------------------------------------------------------------------
-- writing chunks (both job kinds)
-- -----------------------------------------------------------------------------------------------------
-- Replace a row's chunks for one model: p_chunks [{index, content, metadata}], p_vectors [[...], ...]
-- (one per chunk, in order), p_model {name, dimensions}. Returns the number of chunks written.
create function internal.write_knowledge_chunks(
  p_source text, p_source_id uuid, p_document jsonb, p_content_hash text, p_model jsonb, p_chunks jsonb,
  p_vectors jsonb
) returns integer
  language plpgsql
  set search_path = ''
as $$
declare
  model_name text := p_model ->> 'name';
  dims integer := (p_model ->> 'dimensions')::integer;
  written integer;
begin
  if jsonb_typeof(p_chunks) <> 'array' or jsonb_typeof(p_vectors) <> 'array'
     or jsonb_array_length(p_chunks) <> jsonb_array_length(p_vectors) then
    raise exception 'knowledge chunks: % chunks but % embeddings for %', jsonb_array_length(p_chunks),
      jsonb_array_length(p_vectors), model_name using errcode = '22023';
  end if;
  delete from public.knowledge_chunks c
   where c.source = p_source and c.source_id = p_source_id and c.model = model_name;
  insert into public.knowledge_chunks (source, source_id, owner_id, child_id, chunk_index, title, content, metadata,
                                       model, dimensions, embedding, content_hash)
  select p_source, p_source_id, (p_document ->> 'owner_id')::uuid, (p_document ->> 'child_id')::uuid,
         (c.value ->> 'index')::integer, left(coalesce(p_document ->> 'title', ''), 300), c.value ->> 'content',
         coalesce(c.value -> 'metadata', '{}') || coalesce(p_document -> 'metadata', '{}'),
         model_name, dims, (v.value::text)::extensions.vector, p_content_hash
    from jsonb_array_elements(p_chunks) with ordinality as c(value, n)
    join jsonb_array_elements(p_vectors) with ordinality as v(value, n) on v.n = c.n;
  get diagnostics written = row_count;
  insert into internal.knowledge_index (source, source_id, model, content_hash, chunk_count)
  values (p_source, p_source_id, model_name, p_content_hash, written)
  on conflict (source, source_id, model) do update
     set content_hash = excluded.content_hash, chunk_count = excluded.chunk_count, indexed_at = now();
  return written;
end;
$$;
comment on function internal.write_knowledge_chunks(text, uuid, jsonb, text, jsonb, jsonb, jsonb) is
  'Replace a source row''s chunks for one embedding model and record its index entry (in the caller''s transaction).';

-- -----------------------------------------------------------------------------------------------------
-- job kind: knowledge_embedding
-- -----------------------------------------------------------------------------------------------------
--   trigger   internal.queue_knowledge_embedding on each source table
--   context   the row as a document, its hash, the models to embed with, the hash each already has,
--             the chunking settings
--   output    {content_hash, skipped, chunks: [{index, content, metadata}], embeddings: [{model, vectors}]}
--             (workers/kinds/knowledge_embedding.py); one usage entry per embedding call
--   finish    the row's chunks replaced for each model in one transaction; nothing if the row is gone
create function internal.knowledge_embedding_context(p_job internal.jobs) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  source_name text := p_job.payload ->> 'source';
  row_id uuid := (p_job.payload ->> 'source_id')::uuid;
  doc jsonb := internal.knowledge_document(source_name, row_id);
begin
  return jsonb_build_object(
    'source', source_name,
    'source_id', row_id,
    'document', doc,
    'content_hash', case when doc is not null then internal.knowledge_content_hash(doc) end,
    'models', coalesce(internal.embedding_models(), '[]'),
    'indexed', (select coalesce(jsonb_object_agg(i.model, i.content_hash), '{}') from internal.knowledge_index i
                 where i.source = source_name and i.source_id = row_id),
    'chunk_characters', internal.setting('knowledge.chunk_characters', '900'),
    'chunk_overlap', internal.setting('knowledge.chunk_overlap', '120')
  );
end;
$$;
comment on function internal.knowledge_embedding_context(internal.jobs) is
  'Job kind knowledge_embedding: the source row as a document, its hash, the models and what is indexed.';

create function internal.knowledge_embedding_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  source_name text := p_job.payload ->> 'source';
  row_id uuid := (p_job.payload ->> 'source_id')::uuid;
  doc jsonb;
  models jsonb := coalesce(internal.embedding_models(), '[]');
  item jsonb;
  model jsonb;
  written jsonb := '{}';
begin
  if coalesce((p_output ->> 'skipped')::boolean, false) then
    return jsonb_build_object('subject_id', row_id, 'skipped', true);
  end if;
  doc := internal.knowledge_document(source_name, row_id);
  if doc is null then  -- deleted (its chunks went with it) or no longer searchable
    delete from public.knowledge_chunks c where c.source = source_name and c.source_id = row_id;
    delete from internal.knowledge_index i where i.source = source_name and i.source_id = row_id;
    return jsonb_build_object('subject_id', row_id, 'gone', true);
  end if;
  for item in select value from jsonb_array_elements(coalesce(p_output -> 'embeddings', '[]')) loop
    select m.value into model from jsonb_array_elements(models) m where m.value ->> 'name' = item ->> 'model';
    continue when model is null;  -- switched away from while the job ran
    written := written || jsonb_build_object(model ->> 'name', internal.write_knowledge_chunks(
      source_name, row_id, doc, p_output ->> 'content_hash', model, coalesce(p_output -> 'chunks', '[]'), item -> 'vectors'));
  end loop;
  return jsonb_build_object('subject_id', row_id, 'chunks', written);
end;
$$;
comment on function internal.knowledge_embedding_finish(internal.jobs, jsonb, jsonb) is
  'Job kind knowledge_embedding: replace the row''s chunks for each model in one transaction.';

-- -----------------------------------------------------------------------------------------------------
-- job kind: knowledge_reindex (a new embedding model, built in the background)
-- -----------------------------------------------------------------------------------------------------
--   queued    by internal.switch_embedding_model, then by each finish until no row is left
--   context   up to knowledge.reindex_batch rows without an entry for the new model, as documents
--   output    {items: [{source, source_id, content_hash, chunks, vectors}]}
--   finish    writes them (a row an edit embedded meanwhile is left as it is), queues the next batch;
--             with none left, the new model serves and the old one's chunks are deleted
insert into internal.settings (key, value, description) values
  ('knowledge.reindex_batch', '64', 'Rows per knowledge_reindex job when a new embedding model is built.')
on conflict (key) do nothing;

create function internal.switch_embedding_model(p_name text, p_provider text, p_dimensions integer) returns bigint
  language plpgsql
  set search_path = ''
as $$
declare
  serving jsonb := internal.setting('knowledge.embedding_model');
  building jsonb := internal.setting('knowledge.next_embedding_model');
  target jsonb := jsonb_build_object('name', p_name, 'provider', p_provider, 'dimensions', p_dimensions);
begin
  if p_provider not in ('offline', 'openai') then
    raise exception 'provider: must be offline or openai' using errcode = '22023';
  end if;
  if p_dimensions is null or p_dimensions not between 1 and 16000 then
    raise exception 'dimensions: must be between 1 and 16000' using errcode = '22023';
  end if;
  if serving ->> 'name' = p_name then
    raise exception 'the model % already serves', p_name using errcode = '22023';
  end if;
  if building is not null and building ->> 'name' <> p_name then  -- a switch in progress is abandoned
    delete from public.knowledge_chunks c where c.model = building ->> 'name';
    delete from internal.knowledge_index i where i.model = building ->> 'name';
  end if;
  insert into internal.settings (key, value, description)
  values ('knowledge.next_embedding_model', target,
          'The embedding model being built by knowledge_reindex jobs; it serves once every row has it.')
  on conflict (key) do update set value = excluded.value, updated_at = now();
  return internal.enqueue_job('knowledge_reindex', jsonb_build_object('model', p_name, 'user_id', null),
                              'knowledge_reindex:' || p_name || ':' || pg_catalog.txid_current(), 'knowledge_reindex');
end;
$$;
comment on function internal.switch_embedding_model(text, text, integer) is
  'Operators: start embedding everything with another model (provider offline or openai) in the background; '
  'search keeps using the current one until the new one covers every row, then switches. Returns the job id.';

create function internal.knowledge_reindex_context(p_job internal.jobs) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  building jsonb := internal.setting('knowledge.next_embedding_model');
  wanted integer := coalesce((internal.setting('knowledge.reindex_batch', '64') #>> '{}')::integer, 64);
  src internal.knowledge_sources;
  key_column text;
  items jsonb := '[]';
  row_id uuid;
  doc jsonb;
begin
  if building is null or building ->> 'name' <> p_job.payload ->> 'model' then
    return jsonb_build_object('model', null, 'items', '[]', 'obsolete', true);
  end if;
  for src in select * from internal.knowledge_sources order by name loop
    exit when jsonb_array_length(items) >= wanted;
    key_column := (select a.attname from pg_catalog.pg_attribute a join pg_catalog.pg_index x
                     on x.indrelid = a.attrelid and a.attnum = x.indkey[0]
                    where x.indrelid = src.table_name and x.indisprimary);
    for row_id in execute format(
      'select t.%1$I from %2$s t where not exists (select 1 from internal.knowledge_index i '
      'where i.source = $1 and i.source_id = t.%1$I and i.model = $2) order by t.%1$I limit $3',
      key_column, src.table_name) using src.name, building ->> 'name', wanted - jsonb_array_length(items)
    loop
      doc := internal.knowledge_document(src.name, row_id);
      items := items || jsonb_build_array(jsonb_build_object(
        'source', src.name, 'source_id', row_id, 'document', doc,
        'content_hash', case when doc is not null then internal.knowledge_content_hash(doc) end));
    end loop;
  end loop;
  return jsonb_build_object(
    'model', building, 'items', items,
    'chunk_characters', internal.setting('knowledge.chunk_characters', '900'),
    'chunk_overlap', internal.setting('knowledge.chunk_overlap', '120'));
end;
$$;
comment on function internal.knowledge_reindex_context(internal.jobs) is
  'Job kind knowledge_reindex: the next rows without an entry for the model being built, as documents.';

-- Every row has the new model: it serves from now on, and the old one's chunks go. Security definer: the
-- settings are the operators' (workers only read them).
create function internal.serve_embedding_model(p_model jsonb) returns void
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  serving jsonb := internal.setting('knowledge.embedding_model');
begin
  update internal.settings set value = p_model, updated_at = now() where key = 'knowledge.embedding_model';
  delete from internal.settings where key = 'knowledge.next_embedding_model';
  delete from public.knowledge_chunks c where c.model = serving ->> 'name';
  delete from internal.knowledge_index i where i.model = serving ->> 'name';
end;
$$;
comment on function internal.serve_embedding_model(jsonb) is
  'The end of a switch: the built model serves, the one it replaces is deleted with its chunks.';

create function internal.knowledge_reindex_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  building jsonb := internal.setting('knowledge.next_embedding_model');
  serving jsonb := internal.setting('knowledge.embedding_model');
  item jsonb;
  doc jsonb;
  done integer := 0;
begin
  if building is null or building ->> 'name' <> p_job.payload ->> 'model' then
    return jsonb_build_object('obsolete', true);
  end if;
  for item in select value from jsonb_array_elements(coalesce(p_output -> 'items', '[]')) loop
    doc := internal.knowledge_document(item ->> 'source', (item ->> 'source_id')::uuid);
    if doc is null then
      -- Gone or not searchable: an entry without chunks, so the re-index moves on.
      insert into internal.knowledge_index (source, source_id, model, content_hash, chunk_count)
      values (item ->> 'source', (item ->> 'source_id')::uuid, building ->> 'name', '-', 0)
      on conflict do nothing;
    elsif not exists (select 1 from internal.knowledge_index i where i.source = item ->> 'source'
                        and i.source_id = (item ->> 'source_id')::uuid and i.model = building ->> 'name') then
      perform internal.write_knowledge_chunks(item ->> 'source', (item ->> 'source_id')::uuid, doc,
                                              item ->> 'content_hash', building, coalesce(item -> 'chunks', '[]'),
                                              coalesce(item -> 'vectors', '[]'));
    end if;
    done := done + 1;
  end loop;
  if done > 0 then
    perform internal.enqueue_job('knowledge_reindex', p_job.payload,
                                 'knowledge_reindex:' || (building ->> 'name') || ':' || p_job.id, 'knowledge_reindex');
    return jsonb_build_object('rows', done);
  end if;
  perform internal.serve_embedding_model(building);
  return jsonb_build_object('switched_to', building ->> 'name', 'from', serving ->> 'name');
end;
$$;
comment on function internal.knowledge_reindex_finish(internal.jobs, jsonb, jsonb) is
  'Job kind knowledge_reindex: write a batch for the new model and queue the next; with none left, switch.';

-- -----------------------------------------------------------------------------------------------------
-- search (as the caller: RLS decides what is found)
-- -----------------------------------------------------------------------------------------------------
-- Any words of the query, stemmed (english): a question rarely has every word of the text it wants.
create function tools.any_words_query(p_text text) returns tsquery
  language sql
  immutable
  set search_path = ''
as $$
  select nullif(replace(pg_catalog.plainto_tsquery('english'::regconfig, coalesce(p_text, ''))::text, ' & ', ' | '), '')::tsquery
$$;
comment on function tools.any_words_query(text) is 'A full-text query matching any of the words of a text.';

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

-- The ids of the caller's own, their children's and shared chunks that match words, best ranked first.
-- Security definer, for the plan alone: under RLS the planner estimates any user's rows by the average
-- user's (~100, from the policy's `owner_id = (select auth.uid())`) and reads all of a 5,000-chunk user's
-- rows to test the words, where the full-text index ANDed with the owner index reads the few that match.
-- It reads only the caller's own rows, their children's (tools.search_children: the policies' helper) and
-- the shared corpus (the policies' rule, restated) and returns ids and ranks, which search_knowledge then
-- joins under RLS: what the caller may not read is never returned. p_child_id narrows the child side to
-- one child.
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
  -- Planned for the caller's own values: with a generic plan the planner takes every user for the average
  -- one (~100 chunks) and reads all of a 5,000-chunk user's rows to filter them by the words, where the
  -- full-text index ANDed with the owner index reads a few dozen (bench/knowledge.py).
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

-- -----------------------------------------------------------------------------------------------------
-- query embeddings for the coach's search tool
-- -----------------------------------------------------------------------------------------------------
-- p_items: [{"model", "query", "embedding": [...]}]. Refused without the lease.
create function public.put_query_embeddings_v1(p_job_id bigint, p_worker text, p_items jsonb) returns integer
  language plpgsql
  set search_path = ''
as $$
declare
  stored integer;
begin
  perform internal.leased_job(p_job_id, p_worker);
  if jsonb_typeof(p_items) <> 'array' then
    raise exception 'put_query_embeddings_v1: p_items must be an array' using errcode = '22023';
  end if;
  insert into internal.query_embeddings (model, query_hash, embedding)
  select i.value ->> 'model', md5(i.value ->> 'query'), ((i.value -> 'embedding')::text)::extensions.vector
    from jsonb_array_elements(p_items) i
  on conflict (model, query_hash) do update set embedding = excluded.embedding, created_at = now();
  get diagnostics stored = row_count;
  delete from internal.query_embeddings q where q.created_at < now() - interval '1 day';
  return stored;
end;
$$;
comment on function public.put_query_embeddings_v1(bigint, text, jsonb) is
  'Workers: store the embeddings of search queries the model asked for, before the search tool runs. Refused '
  'without the lease. service_role only.';

-- The embedding of a query by a model, if a worker put it (security definer: the tools run as the user).
create function tools.query_embedding(p_model text, p_query text) returns extensions.vector
  language sql
  stable
  security definer
  set search_path = ''
as $$
  select q.embedding from internal.query_embeddings q where q.model = p_model and q.query_hash = md5(p_query)
$$;
comment on function tools.query_embedding(text, text) is 'A search query''s embedding put by the worker, or null.';

-- -----------------------------------------------------------------------------------------------------
-- the operators' corpus as sources: category guidelines and knowledge articles
-- -----------------------------------------------------------------------------------------------------
create function internal.category_guidelines_document(p_id uuid) returns jsonb
  language sql
  stable
  set search_path = ''
as $$
  select jsonb_build_object(
           'owner_id', null, 'child_id', null,
           'title', 'Guidelines: ' || c.name,
           'text', concat_ws(E'\n\n', g.guidelines, nullif('Avoid: ' || nullif(g.avoid, ''), ''),
                             nullif('If there are signs of risk: ' || nullif(g.escalation, ''), '')),
           'metadata', jsonb_build_object('category_id', c.id, 'category', c.slug))
    from internal.category_guidelines g join public.categories c on c.id = g.category_id
   where g.category_id = p_id
$$;
comment on function internal.category_guidelines_document(uuid) is 'Knowledge source category_guidelines: a category''s guidelines.';

create function internal.knowledge_articles_document(p_id uuid) returns jsonb
  language sql
  stable
  set search_path = ''
as $$
  select jsonb_build_object('owner_id', null, 'child_id', null, 'title', a.title, 'text', a.body,
                            'metadata', jsonb_build_object('category_id', a.category_id))
    from internal.knowledge_articles a
   where a.id = p_id and a.is_active
$$;
comment on function internal.knowledge_articles_document(uuid) is 'Knowledge source knowledge_articles: an active article.';

create function internal.stamp_knowledge_article() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
create trigger knowledge_articles_stamp before update on internal.knowledge_articles
  for each row execute function internal.stamp_knowledge_article();

insert into internal.knowledge_sources (name, description, table_name, document_function) values
  ('category_guidelines', 'How coaches work in each category (shared: every signed-in user may search them).',
   'internal.category_guidelines', 'internal.category_guidelines_document(uuid)'),
  ('knowledge_articles', 'Operator articles (shared: every signed-in user may search them).',
   'internal.knowledge_articles', 'internal.knowledge_articles_document(uuid)');

create trigger category_guidelines_knowledge after insert or update or delete on internal.category_guidelines
  for each row execute function internal.queue_knowledge_embedding('category_guidelines', 'category_id', '');
create trigger knowledge_articles_knowledge after insert or update or delete on internal.knowledge_articles
  for each row execute function internal.queue_knowledge_embedding('knowledge_articles', 'id', '');

-- -----------------------------------------------------------------------------------------------------
-- grants and the registry
-- -----------------------------------------------------------------------------------------------------
revoke execute on function internal.embedding_models(), internal.knowledge_document(text, uuid),
  internal.queue_knowledge_row(text, uuid, uuid),
  internal.knowledge_content_hash(jsonb), internal.queue_knowledge_embedding(),
  internal.write_knowledge_chunks(text, uuid, jsonb, text, jsonb, jsonb, jsonb),
  internal.knowledge_embedding_context(internal.jobs), internal.knowledge_embedding_finish(internal.jobs, jsonb, jsonb),
  internal.switch_embedding_model(text, text, integer),
  internal.knowledge_reindex_context(internal.jobs), internal.knowledge_reindex_finish(internal.jobs, jsonb, jsonb),
  internal.serve_embedding_model(jsonb),
  internal.category_guidelines_document(uuid), internal.knowledge_articles_document(uuid),
  internal.stamp_knowledge_article(),
  public.put_query_embeddings_v1(bigint, text, jsonb)
  from public, anon, authenticated;
grant execute on function internal.embedding_models(), internal.knowledge_document(text, uuid),
  internal.knowledge_content_hash(jsonb),
  internal.write_knowledge_chunks(text, uuid, jsonb, text, jsonb, jsonb, jsonb),
  internal.knowledge_embedding_context(internal.jobs), internal.knowledge_embedding_finish(internal.jobs, jsonb, jsonb),
  internal.knowledge_reindex_context(internal.jobs), internal.knowledge_reindex_finish(internal.jobs, jsonb, jsonb),
  internal.serve_embedding_model(jsonb),
  internal.category_guidelines_document(uuid), internal.knowledge_articles_document(uuid),
  public.put_query_embeddings_v1(bigint, text, jsonb)
  to service_role;
revoke execute on function public.search_knowledge(text, extensions.vector, integer, text[], boolean, text, uuid),
  tools.serving_embedding_model(), tools.any_words_query(text), tools.query_embedding(text, text),
  tools.word_matches(tsquery, text, text[], boolean, integer, uuid), tools.search_children(uuid)
  from public, anon;
grant execute on function public.search_knowledge(text, extensions.vector, integer, text[], boolean, text, uuid),
  tools.serving_embedding_model(), tools.any_words_query(text), tools.query_embedding(text, text),
  tools.word_matches(tsquery, text, text[], boolean, integer, uuid), tools.search_children(uuid)
  to authenticated, service_role;

insert into internal.job_kinds (name, description, prompt_kind, streams, context_function, finish_function) values
(
  'knowledge_embedding',
  'Split a searchable row (note, reflection, guideline, article, ...) into chunks and embed them, after it is '
  'inserted or updated; its chunks are replaced in one transaction. No prompt: one usage row per embedding call.',
  null, false,
  'internal.knowledge_embedding_context(internal.jobs)', 'internal.knowledge_embedding_finish(internal.jobs, jsonb, jsonb)'
),
(
  'knowledge_reindex',
  'Embed every searchable row with a new model in batches (internal.switch_embedding_model), then switch search '
  'to it and delete the old model''s chunks.',
  null, false,
  'internal.knowledge_reindex_context(internal.jobs)', 'internal.knowledge_reindex_finish(internal.jobs, jsonb, jsonb)'
);

-- What exists already is embedded by the first worker: the shipped guidelines.
select internal.enqueue_job('knowledge_embedding',
                            jsonb_build_object('source', 'category_guidelines', 'source_id', g.category_id, 'user_id', null),
                            'knowledge_embedding:category_guidelines:' || g.category_id || ':install',
                            'knowledge:category_guidelines:' || g.category_id)
  from internal.category_guidelines g;
