-- =====================================================================================================
-- One request per reply for the worker's queue work: finishing jobs travels with the next claim.
--
--   claim_jobs_v3  first finishes what the worker sends in p_finish, each item on its own (a lost lease
--                  or a bad item fails that item, not the others), then claims like claim_jobs_v2.
--                  Items:  {"id": 1}                       a job without a result (as v2's p_complete)
--                          {"id": 2, "result": {...}}      complete_job_v1 with that result
--                          {"id": 3, "chat_reply": {...}}  complete_chat_reply_v2: message_id, content,
--                                                          model, prompt_version, input_tokens,
--                                                          output_tokens, cache_read_tokens,
--                                                          cache_write_tokens, tail, tail_seq
--                  Returns {"jobs": [...as claim_jobs_v2], "finished": {"<id>": null when done, or
--                  {"code": SQLSTATE, "message": ...}}}; PT409 means the lease was lost.
--
-- A worker finishing a reply sends it with the claim that its freed slot asks for anyway: one commit
-- and one API request instead of two. The worker sends it at once when no claim is in flight, so a
-- reply waits at most for one claim's round trip.
-- =====================================================================================================

create function public.claim_jobs_v3(
  p_worker text,
  p_kinds text[],
  p_limit integer default 1,
  p_lease_seconds integer default 60,
  p_finish jsonb default '[]'
) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  item jsonb;
  reply jsonb;
  job_id bigint;
  acks bigint[] := '{}';
  finished jsonb := '{}';
  claimed jsonb;
begin
  if jsonb_typeof(coalesce(p_finish, '[]')) <> 'array' then
    raise exception 'claim_jobs_v3: p_finish must be a JSON array' using errcode = '22023';
  end if;
  for item in select value from jsonb_array_elements(coalesce(p_finish, '[]')) loop
    if jsonb_typeof(item) <> 'object' or jsonb_typeof(item -> 'id') <> 'number' then
      raise exception 'claim_jobs_v3: each p_finish item needs a numeric "id": %', left(item::text, 200)
        using errcode = '22023';
    end if;
    job_id := (item ->> 'id')::bigint;
    if not (item ? 'chat_reply' or item ? 'result') then
      acks := acks || job_id;
      continue;
    end if;
    begin
      if item ? 'chat_reply' then
        reply := item -> 'chat_reply';
        perform public.complete_chat_reply_v2(
          job_id, p_worker, (reply ->> 'message_id')::uuid, reply ->> 'content', reply ->> 'model',
          reply ->> 'prompt_version', (reply ->> 'input_tokens')::integer, (reply ->> 'output_tokens')::integer,
          coalesce((reply ->> 'cache_read_tokens')::integer, 0), coalesce((reply ->> 'cache_write_tokens')::integer, 0),
          coalesce(reply ->> 'tail', ''), (reply ->> 'tail_seq')::integer
        );
      else
        perform public.complete_job_v1(job_id, p_worker, item -> 'result');
      end if;
      finished := finished || jsonb_build_object(job_id::text, null);
    exception when others then
      finished := finished || jsonb_build_object(job_id::text, jsonb_build_object('code', sqlstate, 'message', sqlerrm));
    end;
  end loop;

  claimed := public.claim_jobs_v2(p_worker, p_kinds, p_limit, p_lease_seconds, acks);
  for job_id in select unnest(acks) loop
    finished := finished || jsonb_build_object(
      job_id::text,
      case when claimed -> 'completed' @> to_jsonb(job_id) then null
           else jsonb_build_object('code', 'PT409', 'message', format('job %s: lease lost', job_id)) end
    );
  end loop;
  if jsonb_array_length(coalesce(p_finish, '[]')) > 0 then
    -- claim_jobs_v2 turns synchronous_commit off when it completes nothing itself; finished results
    -- must be on disk before the worker hears they are (it is read at commit, so this wins).
    perform set_config('synchronous_commit', 'on', true);
  end if;
  return jsonb_build_object('jobs', claimed -> 'jobs', 'finished', finished);
end;
$$;
comment on function public.claim_jobs_v3 is
  'Workers: finish the jobs in p_finish (acknowledgements, results, chat replies; each on its own), then '
  'claim like claim_jobs_v2. Returns {"jobs": [...], "finished": {"<id>": null | {"code", "message"}}}; '
  'code PT409 = lease lost. service_role only.';

revoke execute on function public.claim_jobs_v3 from public, anon, authenticated;
grant execute on function public.claim_jobs_v3 to service_role;
