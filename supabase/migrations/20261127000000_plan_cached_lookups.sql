-- =====================================================================================================
-- The lookups every claim's context makes, as PL/pgSQL: same signatures, same results, same grants.
--
-- A SQL-language function with a SET clause (here `search_path = ''`) is never inlined, and Postgres
-- plans its query again on every call. PL/pgSQL keeps each statement's plan for the session. A chat
-- reply's context (chat_reply_context_v1) resolves two prompts and a category's guidelines: re-planned,
-- that was ~0.3 ms of the ~0.7 ms the context costs, paid on every claim of a chat reply.
-- =====================================================================================================

create or replace function public.resolve_prompt_v1(p_kind text, p_coach_id uuid default null)
  returns table (
    prompt_name text, version integer, prompt_version text, template text, model text,
    max_tokens integer, temperature numeric
  )
  language plpgsql
  stable
  set search_path = ''
as $$
begin
  return query
  select v.prompt_name,
         v.version,
         v.prompt_name || '@v' || v.version,
         v.template,
         coalesce(v.model, s.value #>> '{}', d.value #>> '{}'),
         v.max_tokens,
         v.temperature
    from internal.prompt_assignments a
    join internal.prompt_versions v on v.prompt_name = a.prompt_name and v.is_active
    left join internal.settings s on s.key = 'model.' || p_kind
    left join internal.settings d on d.key = 'model.default'
   where a.kind::text = p_kind
     and (a.coach_id = p_coach_id or a.coach_id is null)
   order by a.coach_id is null
   limit 1;
end;
$$;

create or replace function public.category_guidelines_v1(p_category_id uuid)
  returns table (category_id uuid, slug text, name text, guidelines text, avoid text, escalation text)
  language plpgsql
  stable
  set search_path = ''
as $$
begin
  return query
  select c.id, c.slug, c.name, g.guidelines, g.avoid, g.escalation
    from public.categories c
    join internal.category_guidelines g on g.category_id = c.id
   where c.id = p_category_id
      or c.id = (select k.parent_id from public.categories k where k.id = p_category_id)
   order by c.parent_id nulls first;
end;
$$;
