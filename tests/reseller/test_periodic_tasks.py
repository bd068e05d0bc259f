"""The periodic jobs are scheduled in the database, and each names a task that exists."""

from django_celery_beat.models import PeriodicTask

from reseller.celery import app


def test_every_scheduled_job_names_a_registered_task(db):
    app.loader.import_default_modules()
    scheduled = dict(PeriodicTask.objects.values_list("task", "enabled"))
    assert {"plans.tasks.sweep_activations", "plans.tasks.expire_lines"} <= set(scheduled)
    assert all(scheduled.values())
    assert set(scheduled) <= set(app.tasks), set(scheduled) - set(app.tasks)


def test_the_scheduled_tasks_run_and_report(db):
    from plans.tasks import expire_lines, sweep_activations

    assert sweep_activations.delay().get() == 0
    assert expire_lines.delay().get() == 0
