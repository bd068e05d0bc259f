"""Domain errors raised by services. Views, forms, the admin and the API turn them into a
translated message for the person who asked; they are never a 500."""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """A business rule was broken; ``message`` is safe to show to the user."""

    code = "domain_error"
    default_message = _("This operation is not allowed.")

    def __init__(self, message=None, *, code: str | None = None):
        self.message = message or self.default_message
        if code:
            self.code = code
        super().__init__(str(self.message))


class IllegalTransition(DomainError):
    code = "illegal_transition"
    default_message = _("This change of status is not allowed.")


class ConcurrentUpdate(DomainError):
    code = "concurrent_update"
    default_message = _("Someone else changed this at the same time; reload and try again.")
