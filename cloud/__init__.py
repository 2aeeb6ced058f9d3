"""gridwatch cloud: ingest, storage, API and scheduled jobs."""
