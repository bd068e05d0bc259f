"""Explicit state machines: each model lists its allowed moves in one table, and every
status change goes through ``transition``, which refuses illegal moves and loses no race."""

from django.db import models
from django.utils.translation import gettext as _

from reseller.errors import ConcurrentUpdate, IllegalTransition

Table = dict[str, frozenset[str]]


def transitions(table: dict[str, set[str] | frozenset[str]]) -> Table:
    """Freeze a transitions table; every target must itself be a known state."""
    frozen = {state: frozenset(targets) for state, targets in table.items()}
    unknown = {t for targets in frozen.values() for t in targets} - set(frozen)
    if unknown:
        raise ValueError(f"transitions to unknown states: {sorted(unknown)}")
    return frozen


def can_transition(model: type[models.Model], old: str, new: str, field: str = "status") -> bool:
    table: Table = getattr(model, f"{field.upper()}_TRANSITIONS")
    return new in table.get(old, frozenset())


def transition(
    instance: models.Model, new: str, *, field: str = "status", expect: dict | None = None, **updates
) -> None:
    """Move ``instance`` from its current state to ``new`` (plus ``updates``) with a
    compare-and-set UPDATE, so two processes cannot both make the same move. ``expect`` adds
    conditions the row must still meet (lookups), e.g. ``{"expires_at__lte": now}``."""
    model = type(instance)
    old = getattr(instance, field)
    if not can_transition(model, old, new, field):
        labels = dict(model._meta.get_field(field).flatchoices)
        raise IllegalTransition(
            _("%(model)s cannot go from %(old)s to %(new)s.")
            % {"model": model._meta.verbose_name, "old": labels.get(old, old), "new": labels.get(new, new)}
        )
    changed = model._default_manager.filter(pk=instance.pk, **{field: old}, **(expect or {})).update(
        **{field: new}, **updates
    )
    if changed != 1:
        raise ConcurrentUpdate()
    setattr(instance, field, new)
    for name, value in updates.items():
        setattr(instance, name, value)
