"""The job kinds this worker runs: one module each, registered once in the database (internal.job_kinds).

The registry itself is `workers.kinds.registry` (kept apart so that a kind's module can be imported
without importing every other).
"""
