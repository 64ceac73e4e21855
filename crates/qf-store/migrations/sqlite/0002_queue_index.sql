-- The claim index of 0001 also held running jobs, so with many jobs running every claim
-- walked past all of them to reach the first queued one. Queued jobs now have an index of
-- their own, in claim order; running jobs (expired leases, per-tenant counts) are served by
-- jobs_running.
DROP INDEX jobs_claim;
CREATE INDEX jobs_queue ON jobs (priority DESC, run_after, id) WHERE state = 'queued';
