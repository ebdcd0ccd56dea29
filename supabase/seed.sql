-- Seed data for local development (`supabase db reset`, `make db-reset`, first `make dev`).
-- Runs as `postgres` after all migrations. Coaches, categories and prompts arrive with the schema.
select 1;
