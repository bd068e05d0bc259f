from django.conf import settings
from django.utils.translation import gettext as _


def environment(request):
    """Label every non-production page so nobody mistakes the demo for the real back office."""
    if settings.DJANGO_ENV == "production":
        return {"environment_label": ""}
    return {"environment_label": _("Demo / test data")}
