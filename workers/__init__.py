"""coachbase's worker processes (chat replies, analyses, summaries)."""
