"""The product's settings, plus what only the benchmarks need: their URLs (a stock admin site
and a bare view to compare with) and a Celery queue of their own on the shared broker."""

from reseller.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
# Other people's workers on the same Redis must neither take nor be given our tasks.
CELERY_TASK_DEFAULT_QUEUE = "reseller-bench"
