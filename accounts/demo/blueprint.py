"""The demo set as plain data: the catalogue, the partners and 50 customers with their lines,
renewals, declines and usage, drawn from a fixed random seed. No database and no clock: times
are offsets from the run's anchor, which the writer (``seed``) adds."""

import itertools
import random
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal

from accounts.identifiers import make_activation_code, make_iccid, make_msisdn
from accounts.models import Language, SimLine
from payments.models import PaymentMethod
from plans.models import PlanActivationPolicy, Renewal

DEMO_SEED = 2026
# ICCID serials far above the factories' (1_000_000 + n), so demo rows never meet test rows.
DEMO_LINE_SERIAL_START = 9_000_000_000
# MSISDN serials for make_msisdn: demo lines get +33680….
DEMO_MSISDN_START = 80_000_000

Kind = SimLine.Kind
LineStatus = SimLine.Status
Channel = Renewal.Channel
Method = PaymentMethod

EUROPE = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE GB CH".split()
CHINA = ["CN", "HK", "MO"]


# --- Catalogue ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanSpec:
    code: str
    name_en: str
    name_fr: str
    name_zh_hans: str
    validity_days: int
    data_mb: int | None
    voice_minutes: int
    sms: int
    coverage: tuple[str, ...]
    retail: dict[str, Decimal]
    partner_eur: Decimal
    for_physical: bool = True
    for_esim: bool = True
    activation_policy: str = PlanActivationPolicy.IMMEDIATE
    is_auto_renewable: bool = True
    #: how often demo lines hold this plan, relative to the others
    popularity: int = 10

    def fits(self, kind: str) -> bool:
        return self.for_esim if kind == Kind.ESIM else self.for_physical


def _prices(eur: str, cny: str, usd: str) -> dict[str, Decimal]:
    return {"EUR": Decimal(eur), "CNY": Decimal(cny), "USD": Decimal(usd)}


CATALOGUE: tuple[PlanSpec, ...] = (
    PlanSpec(
        "fr-day-pass", "France Day Pass 3 GB", "Pass Jour France 3 Go", "法国一日通 3GB",
        1, 3_072, 0, 0, ("FR",), _prices("4.90", "39.00", "5.50"), Decimal("3.90"),
        for_physical=False, is_auto_renewable=False, popularity=3,
    ),
    PlanSpec(
        "fr-7d-10gb", "France 7 days 10 GB", "France 7 jours 10 Go", "法国7天 10GB",
        7, 10_240, 60, 60, ("FR",), _prices("9.90", "78.00", "10.90"), Decimal("8.40"),
        popularity=10,
    ),
    PlanSpec(
        "eu-7d-5gb", "Europe 7 days 5 GB", "Europe 7 jours 5 Go", "欧洲7天 5GB",
        7, 5_120, 60, 30, tuple(EUROPE), _prices("11.90", "93.00", "12.90"), Decimal("9.90"),
        popularity=8,
    ),
    PlanSpec(
        "fr-30d-100gb", "France 30 days 100 GB", "France 30 jours 100 Go", "法国30天 100GB",
        30, 102_400, 120, 100, ("FR",), _prices("15.90", "125.00", "17.50"), Decimal("13.50"),
        popularity=14,
    ),
    PlanSpec(
        "eu-30d-20gb", "Europe 30 days 20 GB", "Europe 30 jours 20 Go", "欧洲30天 20GB",
        30, 20_480, 200, 100, tuple(EUROPE), _prices("19.90", "155.00", "21.90"), Decimal("16.90"),
        popularity=20,
    ),
    PlanSpec(
        "eu-30d-unlimited", "Europe 30 days unlimited", "Europe 30 jours illimité", "欧洲30天 无限流量",
        30, None, 500, 200, tuple(EUROPE), _prices("39.90", "309.00", "43.90"), Decimal("34.90"),
        popularity=6,
    ),
    PlanSpec(
        "eu-cn-30d-15gb", "Europe + China 30 days 15 GB", "Europe + Chine 30 jours 15 Go",
        "欧洲+中国 30天 15GB", 30, 15_360, 100, 50, tuple(EUROPE + CHINA),
        _prices("29.90", "229.00", "32.90"), Decimal("25.90"), for_physical=False,
        activation_policy=PlanActivationPolicy.FIRST_USE, is_auto_renewable=False, popularity=8,
    ),
    PlanSpec(
        "eu-90d-50gb", "Europe 90 days 50 GB", "Europe 90 jours 50 Go", "欧洲90天 50GB",
        90, 51_200, 300, 150, tuple(EUROPE), _prices("49.90", "389.00", "54.90"), Decimal("42.90"),
        popularity=6,
    ),
    PlanSpec(
        "eu-365d-100gb", "Europe 1 year 100 GB (SIM card)", "Europe 1 an 100 Go (carte SIM)",
        "欧洲一年 100GB（实体卡）", 365, 102_400, 1_000, 500, tuple(EUROPE),
        _prices("99.00", "769.00", "109.00"), Decimal("84.00"), for_esim=False, popularity=3,
    ),
)  # fmt: skip
PLAN_SPECS = {spec.code: spec for spec in CATALOGUE}


# --- People ----------------------------------------------------------------------------------

ZH_SURNAMES = [
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("赵", "zhao"), ("黄", "huang"), ("周", "zhou"), ("吴", "wu"), ("徐", "xu"), ("孙", "sun"),
    ("胡", "hu"), ("林", "lin"), ("郭", "guo"),
]  # fmt: skip
ZH_GIVEN = [
    ("芳", "fang"), ("伟", "wei"), ("静", "jing"), ("磊", "lei"), ("娜", "na"), ("强", "qiang"),
    ("敏", "min"), ("洋", "yang"), ("婷", "ting"), ("浩然", "haoran"), ("思雨", "siyu"),
    ("子涵", "zihan"), ("欣怡", "xinyi"), ("宇轩", "yuxuan"), ("晓明", "xiaoming"), ("丽华", "lihua"),
]  # fmt: skip
FR_FIRST = (
    "Camille Léa Manon Chloé Inès Zoé Lucas Hugo Louis Gabriel Jules Arthur Nathalie Sophie "
    "Isabelle Thomas Nicolas Julien Mathilde Amélie Benoît François Hélène Jérôme"
).split()
FR_LAST = (
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
    "Lefèvre Michel Garcia Fontaine Rousseau Girard Bonnet Mercier Faure Lambert Chevalier Roux"
).split()
EN_FIRST = (
    "Emily Oliver Jack Sophie James Charlotte Harry Amelia George Olivia Michael Sarah Daniel "
    "Hannah William Grace"
).split()
EN_LAST = (
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Evans Walker Wright Thompson "
    "Hughes Clarke O'Brien Murphy"
).split()

# (city, postal codes, weight): Paris first, as in the reseller's real customer base.
CITIES = [
    ("Paris", [f"750{n:02d}" for n in range(1, 21)], 12),
    ("Lyon", [f"6900{n}" for n in range(1, 10)], 3),
    ("Marseille", [f"130{n:02d}" for n in range(1, 17)], 3),
    ("Nice", ["06000", "06100", "06200", "06300"], 2),
    ("Bordeaux", ["33000", "33100", "33200", "33300", "33800"], 2),
    ("Toulouse", ["31000", "31200", "31300", "31400", "31500"], 2),
    ("Lille", ["59000", "59800"], 1),
    ("Strasbourg", ["67000", "67100", "67200"], 1),
    ("Nantes", ["44000", "44100", "44200", "44300"], 1),
    ("Montpellier", ["34000", "34070", "34080", "34090"], 1),
]
STREETS = [
    "rue Victor Hugo", "rue de la République", "avenue Jean Jaurès", "boulevard Gambetta",
    "rue Pasteur", "rue du Général Leclerc", "place de la Mairie", "rue des Lilas",
    "avenue de la Gare", "rue Voltaire", "rue Émile Zola", "boulevard Carnot",
]  # fmt: skip
ADDRESS_LINE2 = ["", "", "", "", "Bâtiment B", "Appartement 12", "3e étage", "Résidence Les Pins"]


@dataclass(frozen=True)
class PartnerSpec:
    code: str
    name: str
    contact_email: str


DEMO_PARTNERS = (
    PartnerSpec("voyages-lumiere", "Voyages Lumière", "contact@voyages-lumiere.example.org"),
    PartnerSpec("panda-travel", "Panda Travel 熊猫旅行", "partners@panda-travel.example.com"),
)


# --- Blueprint ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenewalSpec:
    number: int  # 1 = oldest; part of the idempotency key
    plan_code: str
    channel: str
    method: str
    currency: str
    price: Decimal
    # Times relative to the run's anchor, so the blueprint needs no clock.
    start: timedelta
    end: timedelta
    paid: timedelta
    refunded: bool = False
    declined_first: str = ""  # a card declined before this payment went through


@dataclass(frozen=True)
class UsageSpec:
    position: float  # where in the elapsed part of the current period (0 = start, 1 = now)
    data_mb: int
    voice_minutes: int
    sms: int


@dataclass(frozen=True)
class LineSpec:
    serial: int
    kind: str
    status: str
    matching_id: str
    expires: timedelta | None
    renewals: tuple[RenewalSpec, ...] = ()
    auto_renew_plan_code: str | None = None
    open_case_decline: str = ""  # the auto-renewal charge failed; a case is open
    usage: tuple[UsageSpec, ...] = ()

    @property
    def iccid(self) -> str:
        return make_iccid(self.serial)

    @property
    def msisdn(self) -> str:
        return make_msisdn(DEMO_MSISDN_START + self.serial - DEMO_LINE_SERIAL_START)

    @property
    def activation_code(self) -> str:
        return make_activation_code(self.matching_id) if self.kind == Kind.ESIM else ""


@dataclass(frozen=True)
class CustomerSpec:
    full_name: str
    email: str
    phone: str
    language: str
    currency: str
    timezone: str
    address_line1: str
    address_line2: str
    postal_code: str
    city: str
    partner_code: str | None
    lines: tuple[LineSpec, ...] = field(default=())


# Line scenarios: what a support agent should find in the demo.
ACTIVE = "active"
EXPIRING_SOON = "expiring_soon"  # within 1-3 days
EXPIRING_THIS_WEEK = "expiring_this_week"  # within 4-7 days
EXPIRED = "expired"
INACTIVE = "inactive"
SUSPENDED = "suspended"
AUTO_RENEW_DECLINED = "auto_renew_declined"
SPECIAL_SCENARIOS = (
    [SUSPENDED] + [INACTIVE] * 2 + [EXPIRED] * 5 + [EXPIRING_SOON] * 5 + [EXPIRING_THIS_WEEK] * 4
    + [AUTO_RENEW_DECLINED]
)  # fmt: skip

DECLINE_MESSAGES = {
    "insufficient_funds": {
        "en": "Your bank declined the payment: insufficient funds. Try another card or method.",
        "fr": "Votre banque a refusé le paiement : provision insuffisante. Essayez un autre moyen.",
        "zh-hans": "银行拒绝了此次付款：余额不足。请换一张卡或其他支付方式。",
    },
    "expired_card": {
        "en": "Your card has expired. Please pay with another card.",
        "fr": "Votre carte a expiré. Veuillez payer avec une autre carte.",
        "zh-hans": "您的银行卡已过期，请使用其他银行卡付款。",
    },
    "authentication_required": {
        "en": "Your bank asks you to confirm this payment. Open the link we sent you.",
        "fr": "Votre banque demande de confirmer ce paiement. Ouvrez le lien que nous vous avons envoyé.",
        "zh-hans": "您的银行要求验证此次付款，请打开我们发送给您的链接。",
    },
}
CARD_METHODS = {Method.CARD, Method.APPLE_PAY}


def demo_blueprint() -> list[CustomerSpec]:
    """The 50 demo customers and their lines, the same on every run."""
    rng = random.Random(DEMO_SEED)  # noqa: S311 - reproducible demo data, not a secret
    people = _draw_people(rng)
    line_counts = [rng.choices((1, 2, 3), weights=(45, 35, 20))[0] for _ in people]
    scenarios = SPECIAL_SCENARIOS + [ACTIVE] * (sum(line_counts) - len(SPECIAL_SCENARIOS))
    rng.shuffle(scenarios)
    serials = itertools.count(DEMO_LINE_SERIAL_START)
    return [
        replace(
            person,
            lines=tuple(
                _draw_line(rng, person, serial=next(serials), scenario=scenarios.pop()) for _ in range(count)
            ),
        )
        for person, count in zip(people, line_counts, strict=True)
    ]


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def _draw_name(rng: random.Random, language: str) -> tuple[str, str]:
    """A full name and the local part of an e-mail address for it."""
    if language == Language.CHINESE:
        (surname, surname_py), (given, given_py) = rng.choice(ZH_SURNAMES), rng.choice(ZH_GIVEN)
        return f"{surname}{given}", f"{given_py}.{surname_py}"
    first_names, last_names = (FR_FIRST, FR_LAST) if language == Language.FRENCH else (EN_FIRST, EN_LAST)
    first, last = rng.choice(first_names), rng.choice(last_names)
    return f"{first} {last}", f"{_ascii(first)}.{_ascii(last)}"


def _draw_people(rng: random.Random) -> list[CustomerSpec]:
    languages = [Language.CHINESE] * 20 + [Language.FRENCH] * 18 + [Language.ENGLISH] * 12
    rng.shuffle(languages)
    names: set[str] = set()
    people = []
    for language in languages:
        full_name, local = _draw_name(rng, language)
        while full_name in names:
            full_name, local = _draw_name(rng, language)
        names.add(full_name)
        people.append(_draw_person(rng, language, full_name, local))
    return people


def _draw_person(rng: random.Random, language: str, full_name: str, local: str) -> CustomerSpec:
    partner_share = {Language.CHINESE: 0.35, Language.FRENCH: 0.3, Language.ENGLISH: 0.2}[language]
    partner_code = None
    if rng.random() < partner_share:
        partner_code = "panda-travel" if language == Language.CHINESE else "voyages-lumiere"
    if partner_code:
        currency = "EUR"  # partners are invoiced in euros
    elif language == Language.CHINESE:
        currency = "CNY" if rng.random() < 0.7 else "EUR"
    elif language == Language.ENGLISH:
        currency = "USD" if rng.random() < 0.5 else "EUR"
    else:
        currency = "EUR"
    # Visitors still at home before the trip live on Shanghai time.
    zone = "Asia/Shanghai" if language == Language.CHINESE and rng.random() < 0.2 else "Europe/Paris"
    city, postal_codes, _ = rng.choices(CITIES, weights=[weight for *_, weight in CITIES])[0]
    return CustomerSpec(
        full_name=full_name,
        email=f"{local}@{rng.choice(('example.com', 'example.org'))}",
        # +33610… to +33629…: every number in this range is a valid French mobile.
        phone=make_msisdn(rng.randrange(10_000_000, 30_000_000)),
        language=language,
        currency=currency,
        timezone=zone,
        address_line1=f"{rng.randint(1, 180)} {rng.choice(STREETS)}",
        address_line2=rng.choice(ADDRESS_LINE2),
        postal_code=rng.choice(postal_codes),
        city=city,
        partner_code=partner_code,
    )


def _matching_id(rng: random.Random) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "-".join("".join(rng.choices(alphabet, k=5)) for _ in range(3))


def _pick_plan(
    rng: random.Random, kind: str, *, hours_left: int | None = None, auto_renewable: bool = False
) -> PlanSpec:
    """A plan this kind of SIM can hold whose period, ending ``hours_left`` from now, has
    already started (so the latest renewal is the one running now)."""
    eligible = [
        spec
        for spec in CATALOGUE
        if spec.fits(kind)
        and (hours_left is None or spec.validity_days * 24 > hours_left)
        and (spec.is_auto_renewable or not auto_renewable)
    ]
    return rng.choices(eligible, weights=[spec.popularity for spec in eligible])[0]


def _hours_left(rng: random.Random, scenario: str) -> int | None:
    return {
        EXPIRING_SOON: lambda: rng.randint(20, 72),
        EXPIRING_THIS_WEEK: lambda: rng.randint(4 * 24, 7 * 24),
        AUTO_RENEW_DECLINED: lambda: rng.randint(20, 44),
        SUSPENDED: lambda: rng.randint(5 * 24, 20 * 24),
        EXPIRED: lambda: -rng.randint(24, 60 * 24),
        ACTIVE: lambda: None,  # depends on the plan
    }[scenario]()


def _draw_line(rng: random.Random, person: CustomerSpec, *, serial: int, scenario: str) -> LineSpec:
    kind = Kind.ESIM if rng.random() < 0.55 else Kind.PHYSICAL
    matching_id = _matching_id(rng) if kind == Kind.ESIM else ""
    if scenario == INACTIVE:
        return LineSpec(serial, kind, LineStatus.INACTIVE, matching_id, expires=None)
    hours_left = _hours_left(rng, scenario)
    latest = _pick_plan(rng, kind, hours_left=hours_left, auto_renewable=scenario == AUTO_RENEW_DECLINED)
    if hours_left is None:
        validity_hours = latest.validity_days * 24
        hours_left = rng.randint(max(2, validity_hours // 4), validity_hours - 1)
    auto_renew_plan = None
    if scenario == AUTO_RENEW_DECLINED or (
        scenario in (ACTIVE, EXPIRING_SOON, EXPIRING_THIS_WEEK)
        and latest.is_auto_renewable
        and rng.random() < 0.35
    ):
        auto_renew_plan = latest.code
    renewals = _draw_renewals(rng, person, kind, latest, hours_left, auto_renew_plan)
    status = {EXPIRED: LineStatus.EXPIRED, SUSPENDED: LineStatus.SUSPENDED}.get(scenario, LineStatus.ACTIVE)
    return LineSpec(
        serial,
        kind,
        status,
        matching_id,
        expires=timedelta(hours=hours_left),
        renewals=renewals,
        auto_renew_plan_code=auto_renew_plan,
        open_case_decline="insufficient_funds" if scenario == AUTO_RENEW_DECLINED else "",
        usage=_draw_usage(rng, latest) if status == LineStatus.ACTIVE and rng.random() < 0.6 else (),
    )


def _draw_renewals(
    rng: random.Random,
    person: CustomerSpec,
    kind: str,
    latest: PlanSpec,
    hours_left: int,
    auto_renew_plan: str | None,
) -> tuple[RenewalSpec, ...]:
    """1-3 back-to-back periods, the last one ending when the line expires."""
    count = rng.choice((1, 2, 2, 3))
    if latest.validity_days >= 365:
        count = min(count, 2)  # keep the history within two years
    older = [latest if rng.random() < 0.75 else _pick_plan(rng, kind) for _ in range(count - 1)]
    chain = [*older, latest]  # oldest first
    # Lay the periods back to back, backwards from the line's expiry.
    starts, end = [], timedelta(hours=hours_left)
    for plan in reversed(chain):
        end -= timedelta(days=plan.validity_days)
        starts.append(end)
    starts.reverse()
    renewals = []
    for index, (plan, start) in enumerate(zip(chain, starts, strict=True)):
        channel = _draw_channel(rng, person, plan, auto_renew_plan, first=index == 0)
        currency, price = _draw_price(person, plan, channel)
        method = _draw_method(rng, person, channel, currency)
        paid = start - _lead_time(rng, plan, channel, chain[index - 1] if index else None)
        renewals.append(
            RenewalSpec(
                number=index + 1,
                plan_code=plan.code,
                channel=channel,
                method=method,
                currency=currency,
                price=price,
                start=start,
                end=start + timedelta(days=plan.validity_days),
                paid=paid,
                refunded=index < count - 1 and rng.random() < 0.04,
                declined_first=(
                    rng.choice(sorted(DECLINE_MESSAGES))
                    if method in CARD_METHODS and rng.random() < 0.1
                    else ""
                ),
            )
        )
    return tuple(renewals)


def _draw_channel(
    rng: random.Random, person: CustomerSpec, plan: PlanSpec, auto_renew_plan: str | None, *, first: bool
) -> str:
    if person.partner_code:
        return Channel.PARTNER_API if rng.random() < 0.8 else Channel.SELF_SERVICE
    if not first and auto_renew_plan == plan.code and rng.random() < 0.8:
        return Channel.AUTO_RENEW
    channel = rng.choice((Channel.SELF_SERVICE, Channel.SELF_SERVICE, Channel.PUBLIC_TOPUP, Channel.ADMIN))
    # Over-the-counter sales in the shop are taken in euros.
    return Channel.SELF_SERVICE if channel == Channel.ADMIN and person.currency != "EUR" else channel


def _draw_price(person: CustomerSpec, plan: PlanSpec, channel: str) -> tuple[str, Decimal]:
    if channel == Channel.PARTNER_API:
        return "EUR", plan.partner_eur
    return person.currency, plan.retail[person.currency]


def _draw_method(rng: random.Random, person: CustomerSpec, channel: str, currency: str) -> str:
    if channel == Channel.PARTNER_API:
        return Method.BANK_TRANSFER  # the partner settles its sales by transfer
    if channel == Channel.AUTO_RENEW:
        return Method.CARD  # off-session charge of the saved card
    if channel == Channel.ADMIN:
        return rng.choice((Method.CASH, Method.BANK_TRANSFER))
    if currency == "CNY":
        return rng.choice((Method.ALIPAY, Method.ALIPAY, Method.WECHAT_PAY, Method.WECHAT_PAY, Method.CARD))
    if currency == "USD":
        return rng.choice((Method.CARD, Method.CARD, Method.APPLE_PAY))
    if person.language == Language.CHINESE:
        return rng.choice((Method.CARD, Method.ALIPAY, Method.WECHAT_PAY, Method.APPLE_PAY))
    return rng.choice((Method.CARD, Method.CARD, Method.APPLE_PAY))


def _lead_time(rng: random.Random, plan: PlanSpec, channel: str, previous: PlanSpec | None) -> timedelta:
    """How long before its period started a renewal was paid. A first purchase starts when
    paid (or at first use); a renewal is bought before the running period ends, never before
    that period began."""
    if previous is None:
        if plan.activation_policy == PlanActivationPolicy.FIRST_USE:
            return timedelta(hours=rng.randint(24, 240))
        return timedelta(0)
    most = 24 if channel == Channel.AUTO_RENEW else 72
    return timedelta(hours=rng.randint(1, min(most, previous.validity_days * 24 - 1)))


def _draw_usage(rng: random.Random, plan: PlanSpec) -> tuple[UsageSpec, ...]:
    # Each record at most 15% of the allowance, so a line never shows as overused.
    data_cap = plan.data_mb * 15 // 100 if plan.data_mb else 4_000
    records = [
        UsageSpec(
            position=rng.uniform(0.05, 0.95),
            data_mb=rng.randint(20, max(21, data_cap)),
            voice_minutes=rng.randint(0, min(plan.voice_minutes, 30)),
            sms=rng.randint(0, min(plan.sms, 10)),
        )
        for _ in range(rng.randint(1, 4))
    ]
    return tuple(sorted(records, key=lambda record: record.position))
