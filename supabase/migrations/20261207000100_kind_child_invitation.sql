-- =====================================================================================================
-- Job kind `child_invitation`: an invitation to share a child reaches the invitee.
--
--   trigger   invite_child_member() queues one job per invitation (20261207000000_children), its payload
--             carrying the token until the email is sent
--   context   internal.child_invitation_context: the invitation (gone when revoked or accepted), the
--             child's name, who invited, whether the address already has an account, the token and the
--             app's accept URL (internal.settings `invitations.accept_url`)
--   worker    workers/kinds/child_invitation.py: an address without an account gets Auth's invite email
--             (POST /auth/v1/invite, service role) whose link signs the invitee up and lands on the accept
--             URL with the token; an existing account gets no email (the owner shares the link the RPC
--             returned). No model is called.
--   finish    internal.child_invitation_finish: the invitation's delivery, and the token erased from the
--             job's payload; a dead job erases it too and marks the delivery failed
-- =====================================================================================================

create function internal.account_exists(p_email text) returns boolean
  language sql
  stable
  security definer
  set search_path = ''
as $$
  select exists (select 1 from auth.users u where lower(u.email) = lower(p_email) and u.email_confirmed_at is not null)
$$;
comment on function internal.account_exists(text) is
  'Whether a confirmed account has this email (Auth would refuse to invite it). Security definer: reads auth.users.';

create function internal.child_invitation_context(p_job internal.jobs) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  invitation public.child_invitations;
begin
  select * into invitation from public.child_invitations where id = (p_job.payload ->> 'invitation_id')::uuid;
  if not found or invitation.accepted_at is not null then
    return jsonb_build_object('invitation', null);  -- revoked or already accepted: nothing to send
  end if;
  return jsonb_build_object(
    'invitation', jsonb_build_object('id', invitation.id, 'email', invitation.email, 'role', invitation.role,
                                     'expires_at', invitation.expires_at),
    'child_name', (select c.name from public.children c where c.id = invitation.child_id),
    'invited_by', (select p.display_name from public.profiles p where p.id = invitation.invited_by),
    'has_account', internal.account_exists(invitation.email),
    'token', p_job.payload ->> 'token',
    'accept_url', internal.setting('invitations.accept_url', '"http://127.0.0.1:3000/invitations/accept"') #>> '{}'
  );
end;
$$;
comment on function internal.child_invitation_context(internal.jobs) is
  'Job kind child_invitation: the invitation, the child''s name, the inviter, whether the address has an '
  'account, the token and the accept URL.';

-- p_output: {"delivery": "auth_invite_sent" | "existing_account" | "failed" | "skipped", "error": text}
create function internal.child_invitation_finish(p_job internal.jobs, p_output jsonb, p_usage jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  invitation_id uuid := (p_job.payload ->> 'invitation_id')::uuid;
  outcome text := p_output ->> 'delivery';
begin
  if outcome is null or outcome not in ('auth_invite_sent', 'existing_account', 'failed', 'skipped') then
    raise exception 'child_invitation output: delivery must be auth_invite_sent, existing_account, failed or skipped'
      using errcode = '22023';
  end if;
  if outcome <> 'skipped' then
    update public.child_invitations
       set delivery = outcome::public.child_invitation_delivery, delivery_error = left(p_output ->> 'error', 1000)
     where id = invitation_id and accepted_at is null;
  end if;
  -- The token has reached the invitee (or never will through this job): it is not kept anywhere.
  update internal.jobs set payload = payload - 'token' where id = p_job.id;
  return jsonb_build_object('subject_id', invitation_id, 'delivery', outcome);
end;
$$;
comment on function internal.child_invitation_finish(internal.jobs, jsonb, jsonb) is
  'Job kind child_invitation: record the invitation''s delivery and erase the token from the job.';

create function internal.forget_dead_invitation_token() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  update internal.jobs set payload = payload - 'token' where id = new.id;
  update public.child_invitations
     set delivery = 'failed', delivery_error = left('The invitation email could not be sent: ' || coalesce(new.last_error, ''), 1000)
   where id = (new.payload ->> 'invitation_id')::uuid and accepted_at is null;
  return null;
end;
$$;
comment on function internal.forget_dead_invitation_token() is
  'Trigger: a dead child_invitation job forgets its token and marks the invitation''s email failed.';
create trigger jobs_forget_dead_invitation_token
  after update of status on internal.jobs
  for each row
  when (new.status = 'dead' and old.status <> 'dead' and new.kind = 'child_invitation')
  execute function internal.forget_dead_invitation_token();

revoke execute on function internal.account_exists(text), internal.child_invitation_context(internal.jobs),
  internal.child_invitation_finish(internal.jobs, jsonb, jsonb), internal.forget_dead_invitation_token()
  from public, anon, authenticated;
grant execute on function internal.account_exists(text), internal.child_invitation_context(internal.jobs),
  internal.child_invitation_finish(internal.jobs, jsonb, jsonb) to service_role;

insert into internal.job_kinds (name, description, prompt_kind, streams, context_function, finish_function)
values (
  'child_invitation',
  'Sends an invitation to share a child: Auth''s invite email to an address without an account (its link lands '
  'on the app''s accept URL with the token); records the delivery and forgets the token. No model.',
  null, false,
  'internal.child_invitation_context(internal.jobs)', 'internal.child_invitation_finish(internal.jobs, jsonb, jsonb)'
);

insert into internal.settings (key, value, description) values
  ('invitations.accept_url', '"http://127.0.0.1:3000/invitations/accept"',
   'The app page an invitee lands on from Auth''s invite email; `?token=<token>` is added. Must be allowed by '
   'Auth''s redirect list (config.toml additional_redirect_urls).')
on conflict (key) do nothing;
