"""The one writer of audit entries. Services call ``audit_record`` inside their transaction,
so an action and its audit entry commit or roll back together."""

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from accounts.models import AuditEntry
from reseller.actors import Actor
from reseller.request_context import current_request_id

_encoder = DjangoJSONEncoder()


def _jsonable(value: Any) -> Any:
    """Decimals, datetimes and model instances as plain JSON (exact strings, never floats)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, models.Model):
        return value.pk
    if value is None or isinstance(value, bool | int | str):
        return value
    return _encoder.default(value)


def audit_record(
    *,
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    changes: dict[str, Any] | None = None,
    reason: str,
) -> AuditEntry:
    """Append one entry: ``action`` is a namespaced code such as ``line.renewed``;
    ``changes`` maps a field to ``[before, after]`` or holds the operation's data; ``reason``
    says why (a staff member's reason and comment, or what triggered a system action) and is
    required: an entry nobody can explain later is worth little in a dispute."""
    if not reason or not reason.strip():
        raise ValueError(f"audit_record({action!r}) needs a reason")
    entry = AuditEntry(
        actor_kind=actor.kind,
        actor_user=actor.user if getattr(actor.user, "pk", None) else None,
        actor_partner=actor.partner,
        actor_label=actor.label[:150],
        channel=actor.channel,
        action=action,
        changes=_jsonable(changes or {}),
        reason=reason.strip(),
        request_id=current_request_id(),
    )
    if obj is not None:
        entry.content_type = ContentType.objects.get_for_model(obj, for_concrete_model=True)
        entry.object_id = str(obj.pk)
        entry.object_repr = str(obj)[:200]
    entry.save()
    return entry
