"""Who is acting. Every service that writes takes an ``actor`` so the audit trail can say
who did what, through which channel."""

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class ActorKind(models.TextChoices):
    STAFF = "staff", _("Staff")
    CUSTOMER = "customer", _("Customer")
    PARTNER = "partner", _("Partner")
    SYSTEM = "system", _("System")


class Channel(models.TextChoices):
    ADMIN = "admin", _("Admin")
    SELF_SERVICE = "self_service", _("Self-service")
    PUBLIC_TOPUP = "public_topup", _("Public top-up")
    API = "api", _("API")
    SYSTEM = "system", _("System task")


@dataclass(frozen=True)
class Actor:
    kind: str
    channel: str
    user: Any = None  # auth user, for staff and customers with a login
    partner: Any = None  # accounts.Partner, for partner API calls
    label: str = ""  # e.g. the task name for system actions

    @classmethod
    def staff(cls, user, channel: str = Channel.ADMIN) -> "Actor":
        return cls(kind=ActorKind.STAFF, channel=channel, user=user, label=user.get_username())

    @classmethod
    def customer(cls, user, channel: str = Channel.SELF_SERVICE) -> "Actor":
        return cls(kind=ActorKind.CUSTOMER, channel=channel, user=user, label=user.get_username())

    @classmethod
    def for_partner(cls, partner) -> "Actor":
        return cls(kind=ActorKind.PARTNER, channel=Channel.API, partner=partner, label=partner.code)

    @classmethod
    def system(cls, label: str) -> "Actor":
        return cls(kind=ActorKind.SYSTEM, channel=Channel.SYSTEM, label=label)
