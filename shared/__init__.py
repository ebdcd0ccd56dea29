"""coachbase's library for workers: settings, Supabase clients, LLM providers, prompts, models."""
