from _jobs_support import env_cache, jobs_ws  # noqa: F401 - fixtures
