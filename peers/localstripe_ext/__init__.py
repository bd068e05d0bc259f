"""Our extensions to localstripe, applied on import: each module patches localstripe's own resource
classes where they differ from Stripe and lists the routes it adds in ROUTES. Run only inside the peer's
virtualenv (localstripe is GPL-3.0 and stays in its own process)."""

from . import cards, common, payment_intents, refunds, setup_intents
from .common import CURRENT_REQUEST, STATE

ROUTES = [*common.ROUTES, *cards.ROUTES, *payment_intents.ROUTES, *refunds.ROUTES, *setup_intents.ROUTES]

__all__ = ["CURRENT_REQUEST", "ROUTES", "STATE"]
