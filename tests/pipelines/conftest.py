from _jobs_support import env_cache, jobs_ws  # noqa: F401 - fixtures
from _pipelines_support import project  # noqa: F401 - fixtures
