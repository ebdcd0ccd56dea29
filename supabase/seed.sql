-- =====================================================================================================
-- Demo content for local development (`supabase db reset`, `make db-reset`, the first `make dev`). Runs
-- once as `postgres` after all migrations. `supabase db push` never runs it: everything the product
-- needs (job kinds, prompts, coaches, categories, settings) ships in supabase/migrations.
--
--   * a demo account: demo@coachbase.dev / coachbase-demo (signs in with email and password)
--
-- Delete it, or this file's content, for a database without demo data.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- the demo account (GoTrue's tables: a confirmed email user and its email identity; the profile is
-- created by the sign-up trigger)
-- -----------------------------------------------------------------------------------------------------
insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at, confirmation_token,
                        recovery_token, email_change_token_new, email_change)
values ('00000000-0000-0000-0000-000000000000', 'd0d0d0d0-0000-4000-8000-000000000001', 'authenticated',
        'authenticated', 'demo@coachbase.dev',
        -- bcrypt (cost 10) of the demo password `coachbase-demo`
        '$2a$10$M2agGdpmMtDTWoOBV8R4aOoe9oQ3LExENrZhc4/LU5G8vY91s3r.q', now(),
        '{"provider": "email", "providers": ["email"]}', '{"display_name": "Dana (demo)"}', now(), now(),
        '', '', '', '')
on conflict (id) do nothing;

insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
values ('d0d0d0d0-0000-4000-8000-000000000001', 'd0d0d0d0-0000-4000-8000-000000000001',
        '{"sub": "d0d0d0d0-0000-4000-8000-000000000001", "email": "demo@coachbase.dev", "email_verified": true}',
        'email', now(), now(), now())
on conflict (provider_id, provider) do nothing;

update public.profiles set timezone = 'Europe/Amsterdam', locale = 'en'
 where id = 'd0d0d0d0-0000-4000-8000-000000000001';
