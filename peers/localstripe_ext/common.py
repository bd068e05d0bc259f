"""What every extension shares: the peer's state, errors in Stripe's shape, webhook delivery, Stripe's
list order, and events. Importing it also stops localstripe from pickling its store to /tmp."""

import asyncio
import contextvars
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field

import aiohttp
from localstripe import resources, webhooks
from localstripe.errors import UserError
from localstripe.resources import Event, List, PaymentIntent, store, try_convert_to_int

log = logging.getLogger("stripe_peer")


@dataclass
class PeerState:
    base_url: str = "http://127.0.0.1:8420"
    webhook_delay: float = 0.2
    #: the Stripe-Version our client last sent; events carry it, as Stripe's carry the account's version
    api_version: str | None = None
    #: (Authorization, Idempotency-Key) → the first response, for replays
    idempotent: dict = field(default_factory=dict)
    in_flight: set = field(default_factory=set)
    deliveries: set = field(default_factory=set)


STATE = PeerState()
#: {"id": "req_…", "idempotency_key": …} of the API request being handled, for the events it causes
CURRENT_REQUEST = contextvars.ContextVar("current_request", default=None)

# -- Clean state: localstripe pickles its store to /tmp on every write and reloads it on start. -------


def _no_disk(_store):
    pass


resources.Store.dump_to_disk = _no_disk
resources.Store.try_load_from_disk = _no_disk


# -- Errors in Stripe's shape ------------------------------------------------------------------------


class CardError(UserError):
    """A 402 of type card_error (localstripe's UserError always says invalid_request_error)."""

    def __init__(self, error: dict):
        super().__init__(402, error["message"], dict(error))
        self.body["error"]["type"] = "card_error"


def bad_request(message: str, code: str | None = None, **contents) -> UserError:
    if code:
        contents["code"] = code
    return UserError(400, message, contents)


def reject_unknown(kwargs: dict) -> None:
    if kwargs:
        raise bad_request("Received unknown parameter: " + ", ".join(sorted(kwargs)), "parameter_unknown")


PAST = {"authenticate": "authenticated", "cancel": "canceled", "confirm": "confirmed"}


def unexpected_state(obj, verb: str, allowed: tuple[str, ...]) -> UserError:
    kind = type(obj).__name__
    return bad_request(
        f"You cannot {verb} this {kind} because it has a status of {obj.status}. Only a {kind} with one of "
        f"the following statuses may be {PAST[verb]}: " + ", ".join(allowed) + ".",
        "payment_intent_unexpected_state"
        if isinstance(obj, PaymentIntent)
        else "setup_intent_unexpected_state",
    )


def one_of(name: str, value, allowed) -> None:
    if value is not None and value not in allowed:
        raise bad_request(f"Invalid {name}: must be one of " + ", ".join(allowed), "parameter_invalid_string")


# -- Webhooks: our own delivery (signed like Stripe, at send time), so a reset can drop pending ones. --


def emit(event_type: str, obj) -> Event:
    event = Event(event_type, obj)
    schedule_webhook(event)
    return event


def schedule_webhook(event: Event) -> None:
    task = asyncio.get_running_loop().create_task(_deliver(event))
    STATE.deliveries.add(task)
    task.add_done_callback(STATE.deliveries.discard)


async def _deliver(event: Event) -> None:
    await asyncio.sleep(STATE.webhook_delay)
    payload = json.dumps(event._export(), indent=2, sort_keys=True).encode()
    for name, webhook in list(webhooks._webhooks.items()):
        if webhook.events is not None and event.type not in webhook.events:
            continue
        timestamp = int(time.time())
        signature = hmac.new(
            webhook.secret.encode(), b"%d.%s" % (timestamp, payload), hashlib.sha256
        ).hexdigest()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": f"t={timestamp},v1={signature}",
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
                session.post(webhook.url, data=payload, headers=headers) as response,
            ):
                log.info("webhook %s %s → %s: %d", event.id, event.type, name, response.status)
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("webhook %s %s → %s failed: %s", event.id, event.type, name, error)


resources.schedule_webhook = schedule_webhook
_original_event_init = Event.__init__


def _event_init(self, type, data):
    _original_event_init(self, type, data)
    self.api_version = STATE.api_version or self.api_version
    self.request = CURRENT_REQUEST.get() or {"id": None, "idempotency_key": None}


Event.__init__ = _event_init


# -- Lists: newest first, as Stripe's are, with created[gt|gte|lt|lte] ------------------------------


def created_filter(created):
    if created is None:
        return lambda obj: True
    if not isinstance(created, dict):
        at = try_convert_to_int(created)
        if not isinstance(at, int):
            raise bad_request("Invalid created: must be an integer or a range", "parameter_invalid_integer")
        return lambda obj: obj.created == at
    bounds = {}
    for op, value in created.items():
        bounds[op] = try_convert_to_int(value)
        if op not in ("gt", "gte", "lt", "lte") or not isinstance(bounds[op], int):
            raise bad_request(f"Invalid created[{op}]", "parameter_invalid_integer")
    tests = {
        "gt": lambda c, v: c > v,
        "gte": lambda c, v: c >= v,
        "lt": lambda c, v: c < v,
        "lte": lambda c, v: c <= v,
    }
    return lambda obj: all(tests[op](obj.created, value) for op, value in bounds.items())


def stored(cls) -> list:
    prefix = cls.object + ":"
    return [obj for key, obj in store.items() if key.startswith(prefix)]


def newest_first(cls, url, *, limit, starting_after, keep) -> List:
    listing = List(url, limit=limit, starting_after=starting_after)
    prefix = cls.object + ":"
    # The store keeps insertion order, so reversing it orders objects made in the same second too.
    listing._list = [obj for key, obj in reversed(store.items()) if key.startswith(prefix) and keep(obj)]
    return listing


def listed(cls, url, *, created=None, limit=None, starting_after=None, **equal) -> List:
    """Stripe's list call: objects newest first, within ``created``, and equal to every filter
    that was given (``customer=…``, ``payment_intent=…``; None: not filtered)."""
    in_range = created_filter(created)
    wanted = {name: value for name, value in equal.items() if value is not None}
    return newest_first(
        cls,
        url,
        limit=limit,
        starting_after=starting_after,
        keep=lambda obj: in_range(obj) and all(getattr(obj, n) == v for n, v in wanted.items()),
    )


# -- Events: newest first ----------------------------------------------------------------------------


def _event_list(cls, url, type=None, created=None, limit=None, starting_after=None, **kwargs):
    reject_unknown(kwargs)
    return listed(cls, url, created=created, limit=limit, starting_after=starting_after, type=type)


def simulate_event_resend(id, **kwargs):
    """Stripe delivers an event again (its retries, or "Resend" in the dashboard)."""
    reject_unknown(kwargs)
    event = Event._api_retrieve(id)
    schedule_webhook(event)
    return event


Event._api_list_all = classmethod(_event_list)
ROUTES = [("POST", "/_test/events/{id}/resend", simulate_event_resend)]
