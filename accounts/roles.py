"""Staff roles and what each may do (DESIGN.md §1). The data migration and the tests both read
this table, so the roles in the database and the roles we test are the same. When it changes,
add a migration that calls ``sync_roles`` again (see 0003_staff_roles, 0005_roles_usage_import)."""

SUPPORT = "Support"
BILLING = "Billing"
MANAGER = "Manager"

_VIEW_EVERYDAY = [
    "accounts.view_customer",
    "accounts.view_simline",
    "accounts.view_partner",
    "accounts.view_correction",
    "accounts.view_auditentry",
    "plans.view_plan",
    "plans.view_renewal",
    "plans.view_usage",
    "payments.view_payment",
    "notifications.view_notificationlog",
    "carrier.view_activationattempt",
]

_SUPPORT_ONLY = [
    "accounts.change_customer",
    "accounts.add_customer",
    "accounts.change_simline",
    "accounts.add_correction",
    "accounts.change_correction",
    "plans.view_usageimport",
    "payments.view_failedpaymentcase",
    "payments.view_savedpaymentmethod",
]
_BILLING_ONLY = [
    "plans.view_price",
    "plans.add_renewal",
    "plans.view_usageimport",
    "plans.add_usageimport",
    "payments.add_payment",
    "payments.view_refund",
    "payments.add_refund",
    "payments.refund_payment",
    "payments.view_failedpaymentcase",
    "payments.change_failedpaymentcase",
    "payments.view_providerevent",
    "payments.view_dispute",
    "payments.view_savedpaymentmethod",
    "payments.view_reconciliationrun",
    "payments.view_partnerwallet",  # partners' prepaid wallets and their ledgers
    "payments.view_walletentry",
]
_MANAGER_ONLY = [
    "accounts.approve_correction",  # four eyes on large balance and expiry adjustments
    "accounts.add_simline",
    "accounts.add_partner",
    "accounts.change_partner",
    "plans.add_plan",
    "plans.change_plan",
    "plans.add_price",
    "plans.change_price",
    "plans.delete_price",
    "notifications.change_notificationlog",  # resend failed messages
    # The schedule of periodic jobs (reminders, sweeps), stored by django-celery-beat.
    "django_celery_beat.view_periodictask",
    "django_celery_beat.change_periodictask",
    "django_celery_beat.view_intervalschedule",
    "django_celery_beat.add_intervalschedule",
    "django_celery_beat.view_crontabschedule",
    "django_celery_beat.add_crontabschedule",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    # Finds customers, answers "my top-up did not arrive", corrects details, requests
    # balance/expiry corrections. No refunds, no prices.
    SUPPORT: sorted({*_VIEW_EVERYDAY, *_SUPPORT_ONLY}),
    # Refunds, failed-payment follow-up, reconciliation, manual payments, usage imports.
    BILLING: sorted({*_VIEW_EVERYDAY, *_BILLING_ONLY}),
    # Everything the two others do, plus the catalogue, prices, partners and schedules.
    MANAGER: sorted({*_VIEW_EVERYDAY, *_SUPPORT_ONLY, *_BILLING_ONLY, *_MANAGER_ONLY}),
}


_DEFAULT_ACTIONS = ("add", "change", "delete", "view")


def sync_roles(apps) -> None:
    """Make the Support, Billing and Manager groups hold exactly the permissions listed in
    ROLE_PERMISSIONS. Runs inside data migrations with the historical ``apps``: a default
    permission (``add_``/``change_``/``delete_``/``view_``) of a model that a later migration
    creates is skipped, and that later migration calls ``sync_roles`` again. Any other
    unknown permission is a typo and stops the migration."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    known = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in Permission.objects.values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        missing = [code for code in codes if code not in known]
        for code in missing:
            if not _model_not_created_yet(apps, code):
                raise LookupError(f"{role}: no permission {code!r}")
        group.permissions.set([known[code] for code in codes if code in known])


#: Permissions of our own (Meta.permissions), by the model that declares them.
_CUSTOM_PERMISSIONS = {
    "accounts.approve_correction": "correction",
    "payments.refund_payment": "refund",
}


def _model_not_created_yet(apps, code: str) -> bool:
    app_label, codename = code.split(".")
    if code in _CUSTOM_PERMISSIONS:
        # Declared by a later migration of its model: the migration that declares it syncs again.
        try:
            model = apps.get_model(app_label, _CUSTOM_PERMISSIONS[code])
        except LookupError:
            return True
        return codename not in {name for name, _label in model._meta.permissions}
    action, _, model_name = codename.partition("_")
    if action not in _DEFAULT_ACTIONS:
        return False
    try:
        apps.get_model(app_label, model_name)
    except LookupError:
        return True
    return False
