"""Default periodic jobs, written by data migrations into django-celery-beat's tables.
Existing rows are left as staff set them (a Manager may have changed an interval)."""

# A schedule is a list of (name, dotted task name, every N minutes).
Schedule = list[tuple[str, str, int]]


def schedule_add(apps, schedule: Schedule) -> None:
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minutes in schedule:
        interval, _ = IntervalSchedule.objects.get_or_create(every=minutes, period="minutes")
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": interval})


def schedule_remove(apps, schedule: Schedule) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=[name for name, _, _ in schedule]
    ).delete()
