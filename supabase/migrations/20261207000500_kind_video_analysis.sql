-- =====================================================================================================
-- Job kind `video_analysis`: a child's video becomes structured observations.
--
--   trigger   a videos row queues one job (videos_enqueue_analysis, 20261207000300_child_files)
--   context   internal.video_analysis_context: the video (status set to processing), its stored object,
--             the child, the uploader's language, the limits (internal.settings videos.*), the prompt;
--             {"video": null} once it was deleted
--   worker    workers/kinds/video_analysis.py: downloads the file, checks it is the video it claims, measures
--             its length and samples frames evenly with ffmpeg (imageio-ffmpeg's binary), uploads the first
--             frame as its thumbnail, and shows the frames to the model, which answers through
--             record_video_analysis (schema from the output model)
--   output    {findings: {summary, observations, strengths, to_watch, specialties_to_consult}, frames,
--             duration_seconds, thumbnail_path} or {error, duration_seconds} or {skipped}
--   finish    internal.video_analysis_finish: status analyzed with the analysis, duration and thumbnail (or
--             error with its message), and the journey's videos and analysis progress and artifact
-- =====================================================================================================

create function internal.video_analysis_context(p_job internal.jobs) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  video public.videos;
begin
  update public.videos v set status = 'processing'
   where v.id = (p_job.payload ->> 'video_id')::uuid and v.status in ('uploaded', 'processing')
  returning * into video;
  if not found then
    return jsonb_build_object('video', null);
  end if;
  return jsonb_build_object(
    'video', jsonb_build_object('id', video.id, 'child_id', video.child_id, 'scenario', video.scenario,
                                'title', video.title, 'storage_path', video.storage_path,
                                'mime_type', video.mime_type, 'size_bytes', video.size_bytes),
    'stored', (select jsonb_build_object('size', (o.metadata ->> 'size')::bigint, 'mimetype', o.metadata ->> 'mimetype')
                 from storage.objects o where o.bucket_id = 'child-videos' and o.name = video.storage_path),
    'child', internal.child_brief(video.child_id),
    'locale', coalesce((select p.locale from public.profiles p where p.id = video.uploaded_by), 'en'),
    'limits', jsonb_build_object('max_bytes', internal.setting('videos.max_bytes', '52428800'),
                                 'max_seconds', internal.setting('videos.max_seconds', '600'),
                                 'frames', internal.setting('videos.frames', '8')),
    'prompt', internal.resolve_prompt('video_analysis')
  );
end;
$$;
comment on function internal.video_analysis_context(internal.jobs) is
  'Job kind video_analysis: the video (now processing), its stored object, the child, the language, limits, prompt.';

create function internal.video_analysis_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  video_id uuid := (p_job.payload ->> 'video_id')::uuid;
  stamp record := internal.last_call(p_usage);
  video public.videos;
begin
  if p_output ->> 'error' is not null then
    update public.videos
       set status = 'error', error_message = left(p_output ->> 'error', 1000), analysis = null,
           duration_seconds = coalesce((p_output ->> 'duration_seconds')::numeric, duration_seconds)
     where id = video_id returning * into video;
  elsif jsonb_typeof(p_output -> 'findings') = 'object' then
    if jsonb_typeof(p_output #> '{findings,summary}') <> 'string' then
      raise exception 'video_analysis output: findings.summary must be a string' using errcode = '22023';
    end if;
    update public.videos
       set status = 'analyzed', error_message = null, analyzed_at = now(),
           analysis = (p_output -> 'findings') || jsonb_build_object('frames', p_output -> 'frames'),
           duration_seconds = (p_output ->> 'duration_seconds')::numeric,
           thumbnail_path = p_output ->> 'thumbnail_path',
           analysis_model = stamp.model || ' ' || stamp.prompt_version
     where id = video_id returning * into video;
    if found then
      perform internal.journey_after_file_analysis(video.child_id, 'video_analysis', video.id,
                                                   coalesce(nullif(video.title, ''), video.scenario::text), p_job.id);
    end if;
  end if;
  return jsonb_build_object('subject_id', video_id, 'status', video.status);
end;
$$;
comment on function internal.video_analysis_finish(internal.jobs, jsonb, jsonb) is
  'Job kind video_analysis: store the analysis, duration and thumbnail (or the error) on the video; move the journey on.';

revoke execute on function internal.video_analysis_context(internal.jobs),
  internal.video_analysis_finish(internal.jobs, jsonb, jsonb) from public, anon, authenticated;
grant execute on function internal.video_analysis_context(internal.jobs),
  internal.video_analysis_finish(internal.jobs, jsonb, jsonb) to service_role;

insert into internal.job_kinds (name, description, prompt_kind, streams, context_function, finish_function, max_attempts,
                                metered)
values (
  'video_analysis',
  'Analyses a child''s video from frames sampled with ffmpeg into structured observations, its length and a '
  'thumbnail; a file that is not the video it claims, too long, too large or unreadable ends in status error.',
  'video_analysis', false,
  'internal.video_analysis_context(internal.jobs)', 'internal.video_analysis_finish(internal.jobs, jsonb, jsonb)', 3,
  true  -- an AI request the user asked for: counted against their limits (20261206000130_usage_limits)
);

insert into internal.prompts (name, kind, description) values
  ('video_analysis', 'video_analysis',
   'Looks at frames of a video of a child; answers through record_video_analysis. Placeholders: child, scenario, '
   'title, duration, frames, locale.')
on conflict (name) do nothing;

insert into internal.prompt_versions (prompt_name, version, template, model, max_tokens, temperature, is_active, change_note)
values (
  'video_analysis', 1, $prompt$A family filmed their child for a child-development journey app. You see {{frames}} frames sampled
evenly from the video, in order (frame 1 first). Look at them as an experienced developmental professional
would, and record what you can see.

The child: {{child}}
Scenario: {{scenario}} (free_play: playing as usual; meal_time: eating; focused_activity: a task that needs attention)
The family's note: {{title}}
Length: {{duration}} seconds

Call the record_video_analysis tool with:
- summary: two to four sentences for the parents, warm and in plain words, in their language ({{locale}}).
- observations: what can be seen (posture and movement, play, communication, interaction, eating, attention),
  each with its area and, as evidence, the frames it is seen in (e.g. "frames 2-4").
- strengths: what the child does well here.
- to_watch: what may be worth looking at more closely with a professional, said gently, without labels.
- specialties_to_consult: only if something in the frames clearly points to a profession.
Describe only what the frames show; frames are moments, so do not judge what happens between them. Never
diagnose, label or predict.$prompt$, null, 1500, 0.20, true, 'First version.'
)
on conflict (prompt_name, version) do nothing;

insert into internal.prompt_assignments (kind, coach_id, prompt_name) values ('video_analysis', null, 'video_analysis')
on conflict (kind, coach_id) do nothing;
