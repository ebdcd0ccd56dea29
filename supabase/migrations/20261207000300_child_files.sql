-- =====================================================================================================
-- A child's documents and videos: private Storage buckets, and the rows that ask for their analysis.
--
-- Files live under `<child_id>/...` in private buckets with size and type limits; the policies on
-- storage.objects go through the membership helper (members read, owners and caregivers upload, change
-- and delete), so a removed member loses the files at once. The app uploads a file, then inserts its
-- `documents` or `videos` row; the row's trigger checks the file is there and queues its analysis
-- (20261207000400_kind_document_analysis, 20261207000500_kind_video_analysis). The worker checks the
-- bytes against what the row claims, so a file that is not what it claims, too large or unreadable ends
-- with status `error` and a message fit for the family. Reports (20261207000600) have their own bucket,
-- written by workers only.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- buckets (the global [storage] file_size_limit, 50 MiB, caps them all)
-- -----------------------------------------------------------------------------------------------------
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types) values
  ('child-documents', 'child-documents', false, 20971520,
   array['application/pdf', 'image/jpeg', 'image/png', 'image/webp']),
  ('child-videos', 'child-videos', false, 52428800,
   -- image/jpeg: the thumbnails workers cut from the videos
   array['video/mp4', 'video/quicktime', 'video/webm', 'image/jpeg']),
  ('child-reports', 'child-reports', false, 10485760, array['application/pdf'])
on conflict (id) do nothing;

-- Members read a child's files; owners and caregivers upload, replace and delete documents and videos;
-- reports are written by workers only. The first folder of a path is the child's id (compared as text:
-- a bad path is simply not a member's).
create policy "Members read their children's files" on storage.objects for select to authenticated
  using (bucket_id in ('child-documents', 'child-videos', 'child-reports')
         and (storage.foldername(name))[1] = any ((select access.member_child_ids('viewer'))::text[]));
create policy "Owners and caregivers upload their children's files" on storage.objects for insert to authenticated
  with check (bucket_id in ('child-documents', 'child-videos')
              and (storage.foldername(name))[1] = any ((select access.member_child_ids('caregiver'))::text[]));
create policy "Owners and caregivers replace their children's files" on storage.objects for update to authenticated
  using (bucket_id in ('child-documents', 'child-videos')
         and (storage.foldername(name))[1] = any ((select access.member_child_ids('caregiver'))::text[]))
  with check (bucket_id in ('child-documents', 'child-videos')
              and (storage.foldername(name))[1] = any ((select access.member_child_ids('caregiver'))::text[]));
create policy "Owners and caregivers delete their children's files" on storage.objects for delete to authenticated
  using (bucket_id in ('child-documents', 'child-videos')
         and (storage.foldername(name))[1] = any ((select access.member_child_ids('caregiver'))::text[]));

-- -----------------------------------------------------------------------------------------------------
-- types
-- -----------------------------------------------------------------------------------------------------
create type public.document_type as enum ('diagnosis', 'report', 'medical', 'other');
comment on type public.document_type is
  'diagnosis: a diagnostic letter or assessment; report: a report by a professional or a kindergarten; medical: '
  'medical records, test results; other: anything else.';

create type public.media_status as enum ('uploaded', 'processing', 'analyzed', 'error');
comment on type public.media_status is
  'uploaded: waiting for analysis; processing: a worker is analysing it; analyzed: analysis holds the result; '
  'error: it could not be analysed (error_message says why: not what it claims, too large, unreadable).';

create type public.video_scenario as enum ('free_play', 'meal_time', 'focused_activity');
comment on type public.video_scenario is
  'What the video shows: free_play (the child playing as usual), meal_time (eating), focused_activity (a task '
  'that needs attention, e.g. a puzzle or a book).';

-- -----------------------------------------------------------------------------------------------------
-- table: documents
-- -----------------------------------------------------------------------------------------------------
create table public.documents (
  id uuid primary key default gen_random_uuid(),
  child_id uuid not null references public.children (id) on delete cascade,
  uploaded_by uuid default auth.uid() references auth.users (id) on delete set null,
  type public.document_type not null default 'other',
  filename text not null,
  storage_path text not null,
  mime_type text not null,
  size_bytes bigint not null,
  status public.media_status not null default 'uploaded',
  analysis jsonb,
  text_content text,
  error_message text,
  analysis_model text,
  analyzed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint documents_id_child_id_key unique (id, child_id),
  constraint documents_storage_path_key unique (storage_path),
  constraint documents_filename_1_to_255_characters check (char_length(btrim(filename)) between 1 and 255),
  constraint documents_storage_path_in_the_childs_folder check (storage_path like child_id::text || '/_%'),
  constraint documents_mime_type_allowed check (mime_type in ('application/pdf', 'image/jpeg', 'image/png', 'image/webp')),
  constraint documents_size_bytes_positive check (size_bytes > 0),
  constraint documents_analysis_is_an_object check (jsonb_typeof(analysis) = 'object'),
  constraint documents_error_message_at_most_1000_characters check (char_length(error_message) <= 1000),
  constraint documents_text_content_at_most_200000_characters check (char_length(text_content) <= 200000)
);
comment on table public.documents is
  'A child''s documents (diagnoses, reports, medical records) in the child-documents bucket; each is analysed by a '
  'worker (PDF text, images seen by the model) into structured observations. Members read them; owners and '
  'caregivers add, rename and delete them.';
comment on column public.documents.id is 'Document id.';
comment on column public.documents.child_id is 'The child.';
comment on column public.documents.uploaded_by is 'Who uploaded it (defaults to the caller).';
comment on column public.documents.type is 'diagnosis, report, medical or other; see the type document_type.';
comment on column public.documents.filename is 'The file''s name as the family knows it, 1 to 255 characters.';
comment on column public.documents.storage_path is
  'Its object in the child-documents bucket: <child_id>/<anything>, uploaded before the row is inserted.';
comment on column public.documents.mime_type is 'What the file claims to be: application/pdf, image/jpeg, image/png or image/webp.';
comment on column public.documents.size_bytes is 'Its size in bytes as uploaded.';
comment on column public.documents.status is 'uploaded, processing, analyzed or error; see the type media_status.';
comment on column public.documents.analysis is
  'AI-owned: {summary, document_kind, language, observations [{area, observation, evidence}], '
  'recommendations_in_document, specialties_to_consult, pages, characters}.';
comment on column public.documents.text_content is
  'AI-owned: the text read from the file for its analysis (PDFs, up to documents.max_characters; null for a '
  'picture or before the analysis). Searchable by the child''s members.';
comment on column public.documents.error_message is 'Why it could not be analysed (status error), in words for the family.';
comment on column public.documents.analysis_model is 'AI-owned: the model and prompt version of the analysis.';
comment on column public.documents.analyzed_at is 'AI-owned: when the analysis was written.';
comment on column public.documents.created_at is 'When it was added.';
comment on column public.documents.updated_at is 'When it last changed.';

create index documents_child_id_idx on public.documents (child_id, created_at desc);
create index documents_uploaded_by_idx on public.documents (uploaded_by);

alter table public.documents enable row level security;
create policy "Members read their children's documents" on public.documents for select to authenticated
  using (child_id = any ((select access.member_child_ids('viewer'))::uuid[]));
create policy "Owners and caregivers add documents" on public.documents for insert to authenticated
  with check (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]) and uploaded_by = (select auth.uid()));
create policy "Owners and caregivers rename documents" on public.documents for update to authenticated
  using (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]))
  with check (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]));
create policy "Owners and caregivers delete documents" on public.documents for delete to authenticated
  using (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]));

revoke all on table public.documents from public, anon, authenticated, service_role;
grant select, delete on table public.documents to authenticated;
grant insert (id, child_id, uploaded_by, type, filename, storage_path, mime_type, size_bytes)
  on table public.documents to authenticated;
grant update (type, filename) on table public.documents to authenticated;
grant select, insert, update, delete on table public.documents to service_role;

-- -----------------------------------------------------------------------------------------------------
-- table: videos
-- -----------------------------------------------------------------------------------------------------
create table public.videos (
  id uuid primary key default gen_random_uuid(),
  child_id uuid not null references public.children (id) on delete cascade,
  uploaded_by uuid default auth.uid() references auth.users (id) on delete set null,
  scenario public.video_scenario not null,
  title text not null default '',
  storage_path text not null,
  mime_type text not null,
  size_bytes bigint not null,
  duration_seconds numeric(8, 2),
  thumbnail_path text,
  status public.media_status not null default 'uploaded',
  analysis jsonb,
  error_message text,
  analysis_model text,
  analyzed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint videos_id_child_id_key unique (id, child_id),
  constraint videos_storage_path_key unique (storage_path),
  constraint videos_title_at_most_200_characters check (char_length(title) <= 200),
  constraint videos_storage_path_in_the_childs_folder check (storage_path like child_id::text || '/_%'),
  constraint videos_mime_type_allowed check (mime_type in ('video/mp4', 'video/quicktime', 'video/webm')),
  constraint videos_size_bytes_positive check (size_bytes > 0),
  constraint videos_duration_seconds_positive check (duration_seconds > 0),
  constraint videos_analysis_is_an_object check (jsonb_typeof(analysis) = 'object'),
  constraint videos_error_message_at_most_1000_characters check (char_length(error_message) <= 1000)
);
comment on table public.videos is
  'Short videos of a child in the child-videos bucket, filmed in one of three scenarios; each is analysed by a '
  'worker from frames sampled with ffmpeg. Members read them; owners and caregivers add, retitle and delete them.';
comment on column public.videos.id is 'Video id.';
comment on column public.videos.child_id is 'The child.';
comment on column public.videos.uploaded_by is 'Who uploaded it (defaults to the caller).';
comment on column public.videos.scenario is 'free_play, meal_time or focused_activity; see the type video_scenario.';
comment on column public.videos.title is 'A title or note from the family (at most 200 characters).';
comment on column public.videos.storage_path is 'Its object in the child-videos bucket: <child_id>/<anything>.';
comment on column public.videos.mime_type is 'What the file claims to be: video/mp4, video/quicktime or video/webm.';
comment on column public.videos.size_bytes is 'Its size in bytes as uploaded.';
comment on column public.videos.duration_seconds is 'AI-owned (the worker measures it): length in seconds.';
comment on column public.videos.thumbnail_path is 'AI-owned: a JPEG frame in the child-videos bucket, <child_id>/<video id>.thumbnail.jpg.';
comment on column public.videos.status is 'uploaded, processing, analyzed or error; see the type media_status.';
comment on column public.videos.analysis is
  'AI-owned: {summary, observations [{area, observation, evidence}], strengths, to_watch, specialties_to_consult, '
  'frames}.';
comment on column public.videos.error_message is 'Why it could not be analysed (status error), in words for the family.';
comment on column public.videos.analysis_model is 'AI-owned: the model and prompt version of the analysis.';
comment on column public.videos.analyzed_at is 'AI-owned: when the analysis was written.';
comment on column public.videos.created_at is 'When it was added.';
comment on column public.videos.updated_at is 'When it last changed.';

create index videos_child_id_idx on public.videos (child_id, created_at desc);
create index videos_uploaded_by_idx on public.videos (uploaded_by);

alter table public.videos enable row level security;
create policy "Members read their children's videos" on public.videos for select to authenticated
  using (child_id = any ((select access.member_child_ids('viewer'))::uuid[]));
create policy "Owners and caregivers add videos" on public.videos for insert to authenticated
  with check (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]) and uploaded_by = (select auth.uid()));
create policy "Owners and caregivers retitle videos" on public.videos for update to authenticated
  using (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]))
  with check (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]));
create policy "Owners and caregivers delete videos" on public.videos for delete to authenticated
  using (child_id = any ((select access.member_child_ids('caregiver'))::uuid[]));

revoke all on table public.videos from public, anon, authenticated, service_role;
grant select, delete on table public.videos to authenticated;
grant insert (id, child_id, uploaded_by, scenario, title, storage_path, mime_type, size_bytes)
  on table public.videos to authenticated;
grant update (scenario, title) on table public.videos to authenticated;
grant select, insert, update, delete on table public.videos to service_role;

alter publication supabase_realtime add table public.documents, public.videos;

-- -----------------------------------------------------------------------------------------------------
-- triggers: the file is there before its row; updated_at; the row queues its analysis
-- -----------------------------------------------------------------------------------------------------
-- Security definer: reads storage.objects whatever the caller may see (it reveals only "not there").
create function internal.check_child_file() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  bucket text := case tg_table_name when 'documents' then 'child-documents' else 'child-videos' end;
begin
  if tg_op = 'INSERT' and not exists (select 1 from storage.objects o where o.bucket_id = bucket and o.name = new.storage_path) then
    raise exception 'storage_path: there is no file % in the % bucket: upload the file first', new.storage_path, bucket
      using errcode = '23503', column = 'storage_path', table = tg_table_name;
  end if;
  new.updated_at := now();
  return new;
end;
$$;
comment on function internal.check_child_file() is
  'Trigger: a document''s or video''s file is in its bucket before the row is added; updated_at on every change.';
create trigger documents_check_file before insert or update on public.documents
  for each row execute function internal.check_child_file();
create trigger videos_check_file before insert or update on public.videos
  for each row execute function internal.check_child_file();

create function internal.enqueue_child_file_analysis() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  kind text := case tg_table_name when 'documents' then 'document_analysis' else 'video_analysis' end;
begin
  perform internal.enqueue_job(
    kind,
    jsonb_build_object(case tg_table_name when 'documents' then 'document_id' else 'video_id' end, new.id,
                       'child_id', new.child_id, 'user_id', new.uploaded_by),
    kind || ':' || new.id::text,
    null
  );
  return null;
end;
$$;
comment on function internal.enqueue_child_file_analysis() is 'Trigger: a new document or video queues its analysis job.';
create trigger documents_enqueue_analysis after insert on public.documents
  for each row execute function internal.enqueue_child_file_analysis();
create trigger videos_enqueue_analysis after insert on public.videos
  for each row execute function internal.enqueue_child_file_analysis();

-- A dead analysis job (every attempt failed, or a permanent error) leaves its file in `error`.
create function internal.fail_dead_child_file_analysis() returns trigger
  language plpgsql
  set search_path = ''
as $$
declare
  message text := 'The analysis could not be completed. Please try uploading the file again later.';
begin
  if new.kind = 'document_analysis' then
    update public.documents set status = 'error', error_message = message
     where id = (new.payload ->> 'document_id')::uuid and status in ('uploaded', 'processing');
  else
    update public.videos set status = 'error', error_message = message
     where id = (new.payload ->> 'video_id')::uuid and status in ('uploaded', 'processing');
  end if;
  return null;
end;
$$;
comment on function internal.fail_dead_child_file_analysis() is
  'Trigger: a dead document_analysis or video_analysis job marks its file''s analysis failed.';
create trigger jobs_fail_dead_child_file_analysis
  after update of status on internal.jobs
  for each row
  when (new.status = 'dead' and old.status <> 'dead' and new.kind in ('document_analysis', 'video_analysis'))
  execute function internal.fail_dead_child_file_analysis();

revoke execute on function internal.check_child_file(), internal.enqueue_child_file_analysis(),
  internal.fail_dead_child_file_analysis() from public, anon, authenticated;

-- What the analyses of a child's files give the journey: documents and videos progress (a third per
-- analysed document, a third per scenario filmed), analysis progress (the share of files analysed),
-- and the analysis as an artifact. Called by the two kinds' finish functions.
create function internal.journey_after_file_analysis(p_child_id uuid, p_kind text, p_id uuid, p_title text,
                                                     p_job_id bigint) returns void
  language plpgsql
  set search_path = ''
as $$
declare
  analysed_documents integer := (select count(*) from public.documents d where d.child_id = p_child_id and d.status = 'analyzed');
  scenarios integer := (select count(distinct v.scenario) from public.videos v where v.child_id = p_child_id and v.status = 'analyzed');
  analysed integer := analysed_documents + (select count(*) from public.videos v where v.child_id = p_child_id and v.status = 'analyzed');
  files integer := (select count(*) from public.documents d where d.child_id = p_child_id)
                   + (select count(*) from public.videos v where v.child_id = p_child_id);
begin
  if not exists (select 1 from public.journeys j where j.child_id = p_child_id and j.completed_at is null) then
    return;
  end if;
  if p_kind = 'document_analysis' then
    perform internal.change_journey(p_child_id, jsonb_build_object('kind', 'progress', 'area', 'documents',
                                    'value', least(100, analysed_documents * 34)), 'worker', null, p_job_id);
  else
    perform internal.change_journey(p_child_id, jsonb_build_object('kind', 'progress', 'area', 'videos',
                                    'value', least(100, scenarios * 34)), 'worker', null, p_job_id);
  end if;
  perform internal.change_journey(p_child_id, jsonb_build_object('kind', 'progress', 'area', 'analysis',
                                  'value', (100 * analysed / greatest(files, 1))::integer), 'worker', null, p_job_id);
  perform internal.change_journey(p_child_id, jsonb_build_object('kind', 'artifact', 'artifact_kind', p_kind,
                                  'title', left(p_title, 200), 'status', 'ready', 'ref_id', p_id), 'worker', null, p_job_id);
end;
$$;
comment on function internal.journey_after_file_analysis(uuid, text, uuid, text, bigint) is
  'The journey after a document or video was analysed: progress of its area and of the analysis, and its artifact.';
revoke execute on function internal.journey_after_file_analysis(uuid, text, uuid, text, bigint) from public, anon, authenticated;
grant execute on function internal.journey_after_file_analysis(uuid, text, uuid, text, bigint) to service_role;

insert into internal.settings (key, value, description) values
  ('documents.max_bytes', '20971520', 'Largest document a worker analyses, in bytes (the bucket refuses larger uploads too).'),
  ('documents.max_pages', '40', 'PDF pages whose text a document analysis reads at most.'),
  ('documents.max_characters', '60000', 'Characters of a PDF''s text sent to the model at most (the rest is cut).'),
  ('videos.max_bytes', '52428800', 'Largest video a worker analyses, in bytes.'),
  ('videos.max_seconds', '600', 'Longest video a worker analyses, in seconds.'),
  ('videos.frames', '8', 'Frames sampled evenly from a video and shown to the model.')
on conflict (key) do nothing;
