"""Who is calling the API: a partner (through one of its keys) or a staff user (through a
staff token). Views ask the caller what it may see and do; services get its ``actor``."""

import dataclasses
from dataclasses import dataclass

from django.db.models import QuerySet

from api.models import ApiKey
from reseller.actors import Actor, Channel


@dataclass(frozen=True)
class PartnerPrincipal:
    """``request.user`` for a partner key: authenticated, but no staff user."""

    partner: object
    is_authenticated: bool = True
    is_active: bool = True
    is_staff: bool = False
    pk: None = None

    def get_username(self) -> str:
        return f"partner:{self.partner.code}"


@dataclass(frozen=True)
class ApiCaller:
    """``request.auth`` for every authenticated API request."""

    key: ApiKey

    @property
    def partner(self):
        return self.key.partner

    @property
    def user(self):
        return self.key.user

    @property
    def is_partner(self) -> bool:
        return self.key.partner_id is not None

    @property
    def principal(self):
        return PartnerPrincipal(self.partner) if self.is_partner else self.user

    @property
    def actor(self) -> Actor:
        # The key's prefix in the label: the audit trail says which of a partner's keys acted.
        if self.is_partner:
            actor = Actor.for_partner(self.partner)
            return dataclasses.replace(actor, label=f"{actor.label} ({self.key.prefix})")
        return Actor.staff(self.user, channel=Channel.API)

    @property
    def idempotency_scope(self) -> str:
        """All keys of one partner share their idempotency keys (a rotated key retries safely)."""
        return f"partner:{self.key.partner_id}" if self.is_partner else f"staff:{self.key.user_id}"

    def has_scope(self, scope: str) -> bool:
        return scope in self.key.scopes

    def has_role_permission(self, permission: str) -> bool:
        """Staff act with their role's permissions; a partner's reach is its scopes and tenancy."""
        return self.is_partner or self.user.has_perm(permission)

    def own(self, queryset: QuerySet, partner_path: str) -> QuerySet:
        """``queryset`` cut to the partner's own rows (``partner_path`` leads to the owning
        partner, e.g. ``customer__partner``); staff see every row."""
        if self.is_partner:
            return queryset.filter(**{partner_path: self.key.partner_id})
        return queryset
