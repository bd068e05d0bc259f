from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect


def home(request):
    # The self-service pages come with their own issue; until then the back office is the admin.
    return redirect("admin:index")


def health(request):
    """Liveness for load balancers: the process answers and the database is reachable."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
