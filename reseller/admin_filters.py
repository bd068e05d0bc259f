"""List filters for big changelists whose choices come from a small related table (plans,
partners): the choices are kept in the cache (Redis, shared by every process, when REDIS_URL
is set) instead of being read on every page, and dropped whenever a row of that table is saved
or deleted. Filtering itself is unchanged: by the related row's id, on the big table's index."""

from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.utils.translation import get_language

#: a safety net for changes that send no signal (``update()``, SQL): choices are re-read this often
CHOICES_SECONDS = 300


def _key(model, language: str | None) -> str:
    return f"admin-filter-choices:{model._meta.label_lower}:{language or ''}"


def _forget(sender, **kwargs) -> None:
    cache.delete_many([_key(sender, code) for code, _name in settings.LANGUAGES] + [_key(sender, None)])


class CachedChoicesRelatedFilter(admin.RelatedFieldListFilter):
    """``RelatedFieldListFilter`` whose choices (id, label) are read from the cache, per
    language since labels may be translated."""

    def field_choices(self, field, request, model_admin):
        model = field.remote_field.model
        key = _key(model, get_language())
        choices = cache.get(key)
        if choices is None:
            choices = [(pk, str(label)) for pk, label in super().field_choices(field, request, model_admin)]
            cache.set(key, choices, CHOICES_SECONDS)
        return choices


def cached_choices_for(*models) -> type[CachedChoicesRelatedFilter]:
    """The filter class, after making sure the choices of ``models`` are forgotten when one of
    their rows changes. Called where the admin is declared, so every process (web, workers)
    that saves a plan or a partner connects the handlers at start-up."""
    for model in models:
        post_save.connect(_forget, sender=model, dispatch_uid=f"admin-choices-save-{model._meta.label}")
        post_delete.connect(_forget, sender=model, dispatch_uid=f"admin-choices-delete-{model._meta.label}")
    return CachedChoicesRelatedFilter
