"""Receipts as PDF: one A4 page in the customer's language (zh-Hans, en or fr) and time zone.

The library is fpdf2 (LGPL-3.0, used unmodified as a library like psycopg; pure Python over
fontTools): it embeds a *subset* of each font it uses, so the PDF shows the same glyphs in any
viewer, with no font installed on the reader's machine, and it reads CFF-based OpenType fonts,
which the CJK fonts are. ReportLab only takes TrueType outlines and WeasyPrint needs Pango.

The font is a subset of Noto Sans CJK SC (Adobe and Google, SIL Open Font License 1.1)
vendored in ``payments/fonts/`` (1.6 MB, with its licence and the script that made it). One
font covers the three languages: GB 2312 (the 6,763 everyday hanzi and its punctuation), the
Latin alphabets with their accents, Greek, Cyrillic and kana, so a Chinese name on an English
receipt or "Reçu n°" on a French one are set in one consistent face. Nothing is fetched or
installed at run time, so a fresh machine renders receipts as a server does.

A character the subset lacks (a rare hanzi in a name, an emoji) is looked up in fallback fonts:
``settings.RECEIPT_FALLBACK_FONTS``, by default the full CJK fonts Debian and Ubuntu install
(fonts-noto-cjk, fonts-wqy-*), used only where present. When no font has it, the receipt is
still issued: the character prints as "□" and a warning is logged. It is never dropped
silently and never raises.

Seller details come from settings (with demo defaults): ``RECEIPT_SELLER_NAME``,
``RECEIPT_SELLER_ADDRESS`` (lines separated by newlines), ``RECEIPT_SELLER_VAT_NUMBER``,
``RECEIPT_SELLER_SIRET`` and ``RECEIPT_SELLER_EMAIL``.
"""

import copy
import functools
import io
import logging
import unicodedata
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.translation import pgettext, pgettext_lazy
from fontTools import ttLib
from fpdf import FPDF
from fpdf.enums import TextMode, XPos, YPos
from fpdf.fonts import SubsetMap, TTFFont

from payments.models import Payment, Refund
from reseller.errors import DomainError
from reseller.money import format_money

logger = logging.getLogger(__name__)
# fpdf2 subsets fonts through fontTools, which logs every glyph list at INFO: noise for us.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)

FONT_DIR = Path(__file__).resolve().parent / "fonts"
#: The font every receipt is set in (see the module docstring and fonts/build_subset.py).
RECEIPT_FONT = FONT_DIR / "ReceiptSansSC-Regular.otf"
#: Full CJK fonts of the usual Linux packages, used for characters RECEIPT_FONT lacks when
#: they are installed. "path#N" names face N of a font collection (.ttc).
DEFAULT_FALLBACK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc#2",  # fonts-noto-cjk, SC face
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
)
#: What a character no font has is printed as.
MISSING_CHARACTER = "□"
# Characters Noto Sans CJK lacks that have a look-alike it has (French groups digits with a
# narrow no-break space in some locales).
_SUBSTITUTES = {"\u202f": "\u00a0", "\u2007": "\u00a0", "\u2009": " ", "\u200a": " "}

_DEMO_SELLER_ADDRESS = "12 rue de l'Exemple\n75001 Paris\nFrance"

# Layout, in millimetres.
_MARGIN = 18
_LABEL_WIDTH = 46
_LINE = 5.6
_INK = (20, 20, 20)
_MUTED = (105, 105, 105)
_ACCENT = (24, 78, 119)
_RULE = (200, 200, 200)


class ReceiptUnavailable(DomainError):
    code = "receipt_unavailable"
    default_message = pgettext_lazy(
        "receipt", "This payment has no receipt: only a completed payment has one."
    )


def receipt_pdf(payment: Payment, *, language: str | None = None) -> bytes:
    """The receipt of a paid payment as PDF bytes, in ``language`` (default: the customer's
    preferred language; a language the product does not speak falls back to English) and in
    the customer's time zone. Refuses a payment without a receipt number (never paid)."""
    if payment.status != Payment.Status.SUCCEEDED or not payment.receipt_number or payment.paid_at is None:
        raise ReceiptUnavailable()
    language = receipt_language(language or payment.customer.language)
    zone = _customer_zone(payment.customer.timezone)
    with translation.override(language), timezone.override(zone):
        receipt = _receipt(payment, zone)
        return _render(receipt, language)


def receipt_language(code: str | None) -> str:
    """The supported language closest to ``code`` ("fr-CA" → "fr", "zh-CN" → "zh-hans"), or
    the product's default language (English) when none is close."""
    try:
        return translation.get_supported_language_variant((code or "").strip().lower().replace("_", "-"))
    except LookupError:
        return settings.LANGUAGE_CODE


# ------------------------------------------------------------------ what the receipt says


@dataclass
class _Row:
    label: str
    value: str


@dataclass
class _RefundLine:
    date: str
    amount: str
    status: str


@dataclass
class _Receipt:
    """Every text of one receipt, already translated and formatted."""

    number: str
    title: str
    seller_name: str
    seller_lines: list[str]
    header_rows: list[_Row]
    customer_rows: list[_Row]
    purchase_rows: list[_Row]
    payment_rows: list[_Row]
    refunds: list[_RefundLine] = field(default_factory=list)
    #: Refunded and net amounts, when there are refunds; the last one is the net amount.
    total_rows: list[_Row] = field(default_factory=list)
    footer_lines: list[str] = field(default_factory=list)
    headings: dict[str, str] = field(default_factory=dict)


def _receipt(payment: Payment, zone: zoneinfo.ZoneInfo) -> _Receipt:
    customer = payment.customer
    currency = payment.currency
    seller_name = getattr(settings, "RECEIPT_SELLER_NAME", "SIM Voyage SAS (demo)")
    address = getattr(settings, "RECEIPT_SELLER_ADDRESS", _DEMO_SELLER_ADDRESS)
    seller_lines = [line.strip() for line in _lines(address) if line.strip()]
    vat = getattr(settings, "RECEIPT_SELLER_VAT_NUMBER", "FR00 123456789")
    siret = getattr(settings, "RECEIPT_SELLER_SIRET", "123 456 789 00012")
    email = getattr(settings, "RECEIPT_SELLER_EMAIL", "support@example.com")
    if vat:
        seller_lines.append(pgettext("receipt", "VAT number: %(number)s") % {"number": vat})
    if siret:
        seller_lines.append(pgettext("receipt", "SIRET: %(number)s") % {"number": siret})

    customer_rows = [_Row(pgettext("receipt", "Name"), customer.full_name)]
    if customer.email:
        customer_rows.append(_Row(pgettext("receipt", "E-mail"), customer.email))
    address_lines = [
        customer.address_line1,
        customer.address_line2,
        " ".join(part for part in (customer.postal_code, customer.city) if part),
        customer.country,
    ]
    if any(address_lines):
        customer_rows.append(
            _Row(pgettext("receipt", "Address"), "\n".join(line for line in address_lines if line))
        )

    refunds = sorted(payment.refunds.all(), key=lambda refund: (refund.created_at, refund.pk))
    refunded = sum(
        (
            refund.amount
            for refund in refunds
            if refund.status == Refund.Status.SUCCEEDED and refund.currency == currency
        ),
        Decimal(0),
    )
    payment_rows = [
        _Row(pgettext("receipt", "Amount paid"), format_money(payment.amount, currency)),
        _Row(pgettext("receipt", "Payment method"), payment.get_method_display()),
    ]
    total_rows = []
    if refunds:
        total_rows = [
            _Row(pgettext("receipt", "Refunded"), format_money(refunded, currency)),
            _Row(pgettext("receipt", "Net amount paid"), format_money(payment.amount - refunded, currency)),
        ]

    footer = [pgettext("receipt", "Thank you for travelling with us.")]
    footer.append(pgettext("receipt", "Amounts include VAT where applicable."))
    if email:
        footer.append(pgettext("receipt", "Questions about this receipt: %(email)s") % {"email": email})

    return _Receipt(
        number=payment.receipt_number,
        title=pgettext("receipt", "Receipt"),
        seller_name=seller_name,
        seller_lines=seller_lines,
        header_rows=[
            _Row(pgettext("receipt", "Receipt no."), payment.receipt_number),
            _Row(pgettext("receipt", "Paid on"), _with_zone(_moment(payment.paid_at), zone)),
        ],
        customer_rows=customer_rows,
        purchase_rows=_purchase_rows(payment, zone),
        payment_rows=payment_rows,
        refunds=[
            _RefundLine(
                date=formats.date_format(
                    timezone.localtime(refund.completed_at or refund.created_at), "DATE_FORMAT"
                ),
                amount=format_money(refund.amount, refund.currency),
                status=refund.get_status_display(),
            )
            for refund in refunds
        ],
        total_rows=total_rows,
        footer_lines=footer,
        headings={
            "customer": pgettext("receipt", "Customer"),
            "purchase": pgettext("receipt", "Purchase"),
            "payment": pgettext("receipt", "Payment"),
            "refunds": pgettext("receipt", "Refunds"),
            "refund_amount": pgettext("receipt", "Amount"),
            "refund_status": pgettext("receipt", "Status"),
        },
    )


def _purchase_rows(payment: Payment, zone: zoneinfo.ZoneInfo) -> list[_Row]:
    renewal = payment.renewal
    if renewal is None:
        return []
    line = renewal.line
    rows = [
        _Row(pgettext("receipt", "Plan"), renewal.plan.display_name(translation.get_language())),
        _Row("ICCID", line.iccid),
    ]
    if line.msisdn:
        rows.append(_Row(pgettext("receipt", "Phone number"), line.msisdn))
    if renewal.period_start and renewal.period_end:
        period = pgettext("receipt", "%(start)s to %(end)s") % {
            "start": _moment(renewal.period_start),
            "end": _moment(renewal.period_end),
        }
        rows.append(_Row(pgettext("receipt", "Period"), _with_zone(period, zone)))
    else:
        rows.append(_Row(pgettext("receipt", "Validity (days)"), str(renewal.validity_days)))
    rows.append(_Row(pgettext("receipt", "Allowances"), _allowances(renewal)))
    return rows


def _allowances(renewal) -> str:
    """One allowance a line: data, then calls and SMS when the plan has any."""
    parts = [format_data_allowance(renewal.data_mb)]
    if renewal.voice_minutes:
        minutes = formats.number_format(renewal.voice_minutes, force_grouping=True)
        parts.append(pgettext("receipt", "%(minutes)s min of calls") % {"minutes": minutes})
    if renewal.sms:
        count = formats.number_format(renewal.sms, force_grouping=True)
        parts.append(pgettext("receipt", "%(count)s SMS") % {"count": count})
    return "\n".join(parts)


def format_data_allowance(data_mb: int | None) -> str:
    """Data as plans name it, in the active language: 1 GB is 1,024 MB ("20 GB", "1,5 Go")."""
    if data_mb is None:
        return pgettext("receipt", "unlimited data")
    if data_mb < 1024:
        amount = formats.number_format(data_mb, force_grouping=True)
        return pgettext("receipt", "%(amount)s MB of data") % {"amount": amount}
    gigabytes = Decimal(data_mb) / 1024
    places = 0 if gigabytes == gigabytes.to_integral_value() else 1
    amount = formats.number_format(round(gigabytes, places), decimal_pos=places, force_grouping=True)
    return pgettext("receipt", "%(amount)s GB of data") % {"amount": amount}


def _moment(value: datetime) -> str:
    """Date and time in the active (the customer's) zone."""
    local = timezone.localtime(value)
    return pgettext("receipt", "%(date)s, %(time)s") % {
        "date": formats.date_format(local, "DATE_FORMAT"),
        "time": formats.time_format(local, "H:i"),
    }


def _with_zone(text: str, zone: zoneinfo.ZoneInfo) -> str:
    return pgettext("receipt", "%(when)s (%(zone)s time)") % {"when": text, "zone": zone.key}


def _customer_zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _lines(value) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(line) for line in value]
    return str(value).splitlines()


# ------------------------------------------------------------------ drawing


class _ReceiptDocument(FPDF):
    """An A4 page set in RECEIPT_FONT, with fallback fonts loaded only when a text needs them."""

    FAMILY = "receipt"

    def __init__(self, *, receipt_number: str, footer_lines: list[str]):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.receipt_number = receipt_number
        self.footer_lines = footer_lines
        font = _receipt_font_copy(self)
        self.fonts[self.FAMILY] = font
        if font.is_cff and font.is_cid_keyed:  # what add_font does for such a font
            self._set_min_pdf_version("1.6")
        self._primary_cmap = self.fonts[self.FAMILY].cmap
        self._fallbacks: list[str] | None = None
        self._reported: set[str] = set()
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(True, margin=34)
        self.set_font(self.FAMILY, size=10)

    def normalize_text(self, text: str) -> str:
        """Every text drawn passes here: make sure each character has a glyph in some font."""
        text = unicodedata.normalize("NFC", super().normalize_text(text))
        if all(ord(character) in self._primary_cmap for character in text):
            return text
        return "".join(self._printable(character) for character in text)

    def _printable(self, character: str) -> str:
        if ord(character) in self._primary_cmap or character == "\n":
            return character
        substitute = _SUBSTITUTES.get(character)
        if substitute is not None and ord(substitute) in self._primary_cmap:
            return substitute
        if unicodedata.category(character) in ("Cc", "Cf"):
            return ""  # invisible controls and joiners
        if any(ord(character) in self.fonts[font].cmap for font in self._fallback_fonts()):
            return character
        placeholder = MISSING_CHARACTER if ord(MISSING_CHARACTER) in self._primary_cmap else "?"
        if character not in self._reported:
            self._reported.add(character)
            logger.warning(
                "receipt %s: no font has U+%04X, printed as %s; install fonts-noto-cjk or set "
                "RECEIPT_FALLBACK_FONTS",
                self.receipt_number,
                ord(character),
                placeholder,
            )
        return placeholder

    def _fallback_fonts(self) -> list[str]:
        if self._fallbacks is None:
            self._fallbacks = []
            for number, spec in enumerate(
                getattr(settings, "RECEIPT_FALLBACK_FONTS", DEFAULT_FALLBACK_FONTS)
            ):
                path, _, face = str(spec).partition("#")
                if not Path(path).is_file():
                    continue
                name = f"fallback{number}"
                try:
                    self.add_font(name, "", path, collection_font_number=int(face or 0))
                except Exception:  # a broken or unreadable font file must not stop a receipt
                    logger.exception("receipt fallback font %s could not be loaded", spec)
                    continue
                self._fallbacks.append(name)
            if self._fallbacks:
                self.set_fallback_fonts(self._fallbacks, exact_match=False)
        return self._fallbacks

    def footer(self):
        self.set_y(-28)
        self.set_draw_color(*_RULE)
        self.line(_MARGIN, self.get_y(), self.w - _MARGIN, self.get_y())
        self.ln(2)
        self.set_font(self.FAMILY, size=8)
        self.set_text_color(*_MUTED)
        for line in self.footer_lines:
            self.cell(0, 4, line, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # Drawing helpers -------------------------------------------------------------------

    def strong(self, width: float, height: float, text: str, *, size: float, color=_INK, **kwargs):
        """Text in a heavier weight: the single vendored weight, filled and lightly stroked."""
        self.set_font(self.FAMILY, size=size)
        self.set_text_color(*color)
        with self.local_context(text_mode=TextMode.FILL_STROKE, line_width=size * 0.0045, draw_color=color):
            self.cell(width, height, text, **kwargs)

    def heading(self, text: str):
        self.ln(5)
        self.strong(0, 7, text, size=11.5, color=_ACCENT, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*_ACCENT)
        self.set_line_width(0.3)
        self.line(_MARGIN, self.get_y(), self.w - _MARGIN, self.get_y())
        self.ln(2)

    def row(self, row: _Row, *, strong: bool = False):
        self.set_font(self.FAMILY, size=9)
        self.set_text_color(*_MUTED)
        top = self.get_y()
        self.multi_cell(_LABEL_WIDTH - 2, _LINE, row.label, align="L", new_x=XPos.RIGHT, new_y=YPos.TOP)
        label_bottom = self.get_y()
        self.set_xy(_MARGIN + _LABEL_WIDTH, top)
        width = self.w - 2 * _MARGIN - _LABEL_WIDTH
        if strong:
            self.strong(width, _LINE + 1, row.value, size=11, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        else:
            self.set_font(self.FAMILY, size=10)
            self.set_text_color(*_INK)
            self.multi_cell(width, _LINE, row.value, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_y(max(self.get_y(), label_bottom) + 0.8)


@functools.cache
def _receipt_font_template(path: Path) -> tuple[TTFFont, bytes]:
    """The font at ``path`` as fpdf2 reads it (its character map and glyph widths, a tenth of
    a second of CPU each time), once per process, with the file's bytes."""
    document = FPDF()
    document.add_font(_ReceiptDocument.FAMILY, "", path)
    return document.fonts[_ReceiptDocument.FAMILY], Path(path).read_bytes()


def _receipt_font_copy(pdf: FPDF) -> TTFFont:
    """The parsed receipt font for one document: what output() changes (the fontTools font
    it subsets in place, the glyphs used) is the document's own; the read-only maps are shared."""
    template, data = _receipt_font_template(RECEIPT_FONT)
    font = copy.copy(template)
    font.i = len(pdf.fonts) + 1
    font.ttfont = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, lazy=True)
    font._hbfont = None
    font.biggest_size_pt = 0
    font.missing_glyphs = []
    font.subset = SubsetMap(font)
    return font


def _render(receipt: _Receipt, language: str) -> bytes:
    pdf = _ReceiptDocument(receipt_number=receipt.number, footer_lines=receipt.footer_lines)
    pdf.set_title(f"{receipt.title} {receipt.number}")
    pdf.set_author(receipt.seller_name)
    pdf.set_creator("sim-reseller-backoffice")
    pdf.set_lang(translation.to_locale(language).replace("_", "-"))
    pdf.add_page()

    # Seller on the left, the receipt's title, number and date on the right; long texts wrap
    # within their column.
    left, right = 88, 84
    top = pdf.get_y()
    pdf.strong(left, 6, receipt.seller_name, size=12, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(pdf.FAMILY, size=9)
    pdf.set_text_color(*_MUTED)
    for line in receipt.seller_lines:
        pdf.multi_cell(left, 4.6, line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    seller_bottom = pdf.get_y()

    right_x = pdf.w - _MARGIN - right
    pdf.set_xy(right_x, top - 1)
    pdf.strong(right, 11, receipt.title, size=24, color=_ACCENT, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
    for row in receipt.header_rows:
        pdf.set_x(right_x)
        pdf.set_font(pdf.FAMILY, size=8.5)
        pdf.set_text_color(*_MUTED)
        pdf.multi_cell(right, 4.4, row.label, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_x(right_x)
        pdf.set_font(pdf.FAMILY, size=10)
        pdf.set_text_color(*_INK)
        pdf.multi_cell(right, 5.4, row.value, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_y(max(pdf.get_y(), seller_bottom) + 2)

    pdf.heading(receipt.headings["customer"])
    for row in receipt.customer_rows:
        pdf.row(row)
    if receipt.purchase_rows:
        pdf.heading(receipt.headings["purchase"])
        for row in receipt.purchase_rows:
            pdf.row(row)
    pdf.heading(receipt.headings["payment"])
    for row in receipt.payment_rows:
        pdf.row(row)
    if receipt.refunds:
        _refund_table(pdf, receipt)
    for number, row in enumerate(receipt.total_rows, start=1):
        pdf.row(row, strong=number == len(receipt.total_rows))
    return bytes(pdf.output())


def _refund_table(pdf: _ReceiptDocument, receipt: _Receipt):
    """Date, amount and status of each refund; the amounts in the column of the amount paid."""
    headings = receipt.headings
    widths = (_LABEL_WIDTH, 42, pdf.w - 2 * _MARGIN - _LABEL_WIDTH - 42)
    pdf.ln(1)
    pdf.set_font(pdf.FAMILY, size=9)
    pdf.set_text_color(*_MUTED)
    pdf.set_fill_color(240, 243, 246)
    for width, text in zip(
        widths, (headings["refunds"], headings["refund_amount"], headings["refund_status"]), strict=True
    ):
        pdf.cell(width, 6, text, fill=True)
    pdf.ln(6)
    pdf.set_draw_color(*_RULE)
    for refund in receipt.refunds:
        pdf.set_font(pdf.FAMILY, size=9)
        pdf.set_text_color(*_MUTED)
        pdf.cell(widths[0], 6.4, refund.date, border="B")
        pdf.set_font(pdf.FAMILY, size=10)
        pdf.set_text_color(*_INK)
        pdf.cell(widths[1], 6.4, refund.amount, border="B")
        pdf.cell(widths[2], 6.4, refund.status, border="B", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
