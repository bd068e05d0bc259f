"""Receipt PDFs: in the customer's language and time zone, with every character really drawn.

The PDFs are read back the way a person's viewer reads them: PDFium (the engine of Chrome's
viewer) extracts the text and renders page 1 at 150 dpi. Whether Chinese is really drawn is
checked on the rendered pixels, not only in the text layer: a PDF whose font lacks the glyphs
still carries the right text, and shows boxes ("tofu"). The two controls at the end show that
the glyph check fails for a font without Chinese glyphs and for one drawing them as boxes.
The rendered receipts are saved in test-artifacts/ for a person to look at.
"""

import itertools
import logging
from datetime import UTC, datetime
from decimal import Decimal
from math import ceil, floor
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from django.utils import timezone, translation
from fontTools import subset
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops, ImageFilter, ImageOps

from payments import receipt_pdf as receipt_module
from payments.models import Payment, PaymentMethod
from payments.receipt_pdf import ReceiptUnavailable, receipt_language, receipt_pdf
from reseller.errors import DomainError
from tests.factories import (
    CustomerFactory,
    PaymentFactory,
    PlanFactory,
    RefundFactory,
    RenewalFactory,
    SimLineFactory,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DPI = 150
SCALE = DPI / 72  # PDF points are 1/72 inch
A4_POINTS = (595.28, 841.89)
# 23:30 UTC on 14 March 2026 is already the 15th in Paris (UTC+1) and Shanghai (UTC+8).
PAID_AT = datetime(2026, 3, 14, 23, 30, tzinfo=UTC)
# Distinct hanzi that a zh-Hans receipt draws in its body text (10 pt): the customer's name,
# the plan and the payment method. One size, so that boxes would look alike.
HANZI = "王小明欧洲天银行卡"

pytestmark = pytest.mark.usefixtures("compiled_catalogues")


@pytest.fixture
def make_payment(db):
    """A succeeded card payment of a 30-day renewal, for a customer as the test needs."""

    def make(*, amount="19.90", currency="EUR", receipt_number="R2026-000123", **customer):
        customer.setdefault("timezone", "Europe/Paris")
        plan = PlanFactory(
            name_en="Europe 30 days 20 GB",
            name_fr="Europe 30 jours 20 Go",
            name_zh_hans="欧洲30天 20GB",
            data_mb=20_480,
            voice_minutes=100,
            sms=50,
        )
        line = SimLineFactory(customer=CustomerFactory(**customer), plan=plan)
        renewal = RenewalFactory(
            line=line,
            price_amount=Decimal(amount),
            currency=currency,
            paid_at=PAID_AT,
            period_start=PAID_AT,
            period_end=datetime(2026, 4, 13, 23, 30, tzinfo=UTC),
        )
        return PaymentFactory(
            renewal=renewal, paid_at=PAID_AT, method=PaymentMethod.CARD, receipt_number=receipt_number
        )

    return make


@pytest.fixture
def font_warnings(caplog):
    """Warnings of fpdf2 (a glyph missing from a font) and of the receipt (no font has it)."""
    caplog.set_level(logging.WARNING)

    def warnings():
        return [r.getMessage() for r in caplog.records if r.name.startswith(("fpdf", "payments.receipt_pdf"))]

    return warnings


def page_text(pdf: bytes) -> list[str]:
    """The text lines of every page as PDFium extracts them, no-break spaces as spaces."""
    document = pdfium.PdfDocument(pdf)
    text = "\n".join(page.get_textpage().get_text_range() for page in document)
    return [line.replace("\xa0", " ").strip() for line in text.replace("\r\n", "\n").split("\n")]


def render_page(pdf: bytes, name: str) -> Image.Image:
    """Page 1 at 150 dpi, also saved as test-artifacts/<name>.png."""
    image = pdfium.PdfDocument(pdf)[0].render(scale=SCALE).to_pil()
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / f"{name}.png")
    return image


def glyph_images(pdf: bytes, characters: str) -> dict[str, Image.Image]:
    """How page 1 draws each of ``characters`` (the first time), as pixels: the character's
    box from PDFium's text API, cropped from the page rendered at 150 dpi, trimmed to its ink
    and scaled to a 32×32 black-and-white image (so the same shape drawn at another spot
    gives the same image). A character missing from the text layer is missing here."""
    page = pdfium.PdfDocument(pdf)[0]
    textpage = page.get_textpage()
    pixels = page.render(scale=SCALE).to_pil().convert("L")
    height = page.get_height()
    images = {}
    for index in range(textpage.count_chars()):
        character = textpage.get_text_range(index, 1)
        if character in characters and character not in images:
            left, bottom, right, top = textpage.get_charbox(index, loose=True)
            box = (
                floor(left * SCALE),
                floor((height - top) * SCALE),
                ceil(right * SCALE),
                ceil((height - bottom) * SCALE),
            )
            glyph = pixels.crop(box)
            inked = ImageOps.invert(glyph.point(lambda value: 0 if value < 160 else 255)).getbbox()
            if inked is None:
                images[character] = Image.new("L", (32, 32), 255)
                continue
            glyph = glyph.crop(inked).resize((32, 32), Image.Resampling.BOX)
            images[character] = glyph.point(lambda value: 0 if value < 160 else 255)
    return images


def ink(image: Image.Image) -> float:
    """Share of the pixels that are black."""
    return image.histogram()[0] / (image.width * image.height)


def difference(first: Image.Image, second: Image.Image) -> float:
    """Share of the pixels inked in one glyph image with no ink of the other within one pixel
    (averaged both ways): 0 for one shape drawn one pixel apart, large for two shapes."""

    def stray(image, other):
        near_other = other.filter(ImageFilter.MinFilter(3))  # ink spread by one pixel
        stray_ink = ImageChops.multiply(ImageOps.invert(image), near_other)
        return stray_ink.histogram()[255] / (image.width * image.height)

    return (stray(first, second) + stray(second, first)) / 2


def assert_real_glyphs(pdf: bytes, characters: str, notdef_boxes: dict[str, Image.Image]) -> None:
    """Each character is in the text layer, is drawn with ink, and looks like none of the
    others nor like the .notdef box drawn in its place: real, distinct glyphs, not tofu."""
    images = glyph_images(pdf, characters)
    assert sorted(images) == sorted(characters), "characters missing from the text layer"
    for character, image in images.items():
        assert ink(image) > 0.04, f"{character} is drawn blank"
        assert difference(image, notdef_boxes[character]) > 0.06, f"{character} is drawn as the .notdef box"
    # Real hanzi differ by 0.08 or more; boxes drawn at different places by 0.03 at most.
    for first, second in itertools.combinations(characters, 2):
        assert difference(images[first], images[second]) > 0.05, f"{first} and {second} look the same"


@pytest.fixture(scope="session")
def tofu_font(tmp_path_factory) -> Path:
    """A font that maps every character of the receipt font to a copy of that font's .notdef
    box: what a PDF looks like when its font claims characters it cannot draw."""
    real = TTFont(receipt_module.RECEIPT_FONT)
    glyphs = real.getGlyphSet()
    width = real["hmtx"][".notdef"][0]
    pen = T2CharStringPen(width, glyphs)
    glyphs[".notdef"].draw(pen)
    box = pen.getCharString()
    builder = FontBuilder(real["head"].unitsPerEm, isTTF=False)
    builder.setupGlyphOrder([".notdef", "space", "box"])
    builder.setupCharacterMap({code: "space" if code == 0x20 else "box" for code in real.getBestCmap()})
    space = T2CharStringPen(224, glyphs).getCharString()
    builder.setupCFF(
        "TofuSans-Regular", {"FullName": "Tofu Sans"}, {".notdef": box, "space": space, "box": box}, {}
    )
    builder.setupHorizontalMetrics({".notdef": (width, 0), "space": (224, 0), "box": (width, 0)})
    builder.setupHorizontalHeader(ascent=real["hhea"].ascent, descent=real["hhea"].descent)
    builder.setupNameTable({"familyName": "Tofu Sans", "styleName": "Regular"})
    os2 = real["OS/2"]
    builder.setupOS2(
        sTypoAscender=os2.sTypoAscender,
        sTypoDescender=os2.sTypoDescender,
        usWinAscent=os2.usWinAscent,
        usWinDescent=os2.usWinDescent,
    )
    builder.setupPost()
    path = tmp_path_factory.mktemp("fonts") / "TofuSans-Regular.otf"
    builder.save(path)
    return path


@pytest.fixture(scope="session")
def latin_only_font(tmp_path_factory) -> Path:
    """The receipt font cut down to Latin: a font with no Chinese glyph at all."""
    options = subset.Options()
    options.notdef_outline = True
    options.name_IDs = ["*"]
    font = subset.load_font(str(receipt_module.RECEIPT_FONT), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=range(0x20, 0x180))
    subsetter.subset(font)
    path = tmp_path_factory.mktemp("fonts") / "LatinOnly-Regular.otf"
    font.save(path)
    return path


@pytest.fixture
def receipt_font(monkeypatch, settings):
    """Set receipts in another font, with no fallback font to rescue missing characters."""
    settings.RECEIPT_FALLBACK_FONTS = []

    def use(path: Path):
        monkeypatch.setattr(receipt_module, "RECEIPT_FONT", path)

    return use


@pytest.fixture
def notdef_boxes(make_payment, receipt_font, tofu_font, monkeypatch) -> dict[str, Image.Image]:
    """The receipt font's .notdef box as PDFium draws it in place of each of HANZI, in a
    zh-Hans receipt set in the tofu font: the reference a real glyph must not look like."""
    payment = make_payment(full_name="王小明", language="zh-hans", receipt_number="R2026-000900")
    with monkeypatch.context() as patch:
        patch.setattr(receipt_module, "RECEIPT_FONT", tofu_font)
        pdf = receipt_pdf(payment)
    return glyph_images(pdf, HANZI)


# ------------------------------------------------------------------ Chinese, really drawn


def test_a_chinese_receipt_draws_real_chinese_glyphs_not_tofu(make_payment, notdef_boxes, font_warnings):
    payment = make_payment(full_name="王小明", language="zh-hans", timezone="Asia/Shanghai")

    pdf = receipt_pdf(payment)

    document = pdfium.PdfDocument(pdf)
    assert len(document) == 1
    assert document[0].get_size() == pytest.approx(A4_POINTS, abs=0.01)
    lines = page_text(pdf)
    assert "收据" in lines
    assert "姓名 王小明" in lines
    assert "套餐 欧洲30天 20GB" in lines
    assert "付款时间" in lines
    assert "2026年3月15日 07:30（Asia/Shanghai 时间）" in lines
    assert "支付方式 银行卡" in lines
    assert "实付金额 19.90 EUR" in lines
    assert "感谢您与我们一同出行。" in lines
    assert_real_glyphs(pdf, HANZI, notdef_boxes)
    assert font_warnings() == []
    render_page(pdf, "receipt-zh-hans")


def test_a_chinese_name_on_an_english_receipt_is_drawn(make_payment, notdef_boxes, font_warnings):
    payment = make_payment(full_name="Bob 王明", language="zh-hans")

    pdf = receipt_pdf(payment, language="en")

    lines = page_text(pdf)
    assert "Receipt" in lines
    assert "Name Bob 王明" in lines
    assert "Plan Europe 30 days 20 GB" in lines
    assert_real_glyphs(pdf, "王明", notdef_boxes)
    assert font_warnings() == []
    render_page(pdf, "receipt-en-chinese-name")


def test_a_french_receipt_keeps_its_accents(make_payment, font_warnings):
    payment = make_payment(full_name="Amélie Lefèvre-Ñúñez", language="fr", city="Besançon")

    pdf = receipt_pdf(payment)

    lines = page_text(pdf)
    assert "Reçu" in lines
    assert "Reçu n°" in lines
    assert "Nom Amélie Lefèvre-Ñúñez" in lines
    assert "Adresse Besançon" in lines
    assert "Forfait Europe 30 jours 20 Go" in lines
    assert "Période du 15 mars 2026 à 00:30 au 14 avril 2026 à 01:30 (heure de Europe/Paris)" in lines
    assert "Contenu du forfait 20 Go de données" in lines
    assert "100 min d'appels" in lines
    assert "Montant payé 19,90 EUR" in lines
    assert "Moyen de paiement Carte bancaire" in lines
    assert "Montants TVA comprise le cas échéant." in lines
    assert not any("□" in line or "?" in line for line in lines)
    assert font_warnings() == []
    render_page(pdf, "receipt-fr")


# ------------------------------------------------------------------ what the receipt says


def test_refunds_are_listed_with_the_net_amount(make_payment, font_warnings):
    payment = make_payment(amount="19.90", language="en")
    RefundFactory(
        payment=payment,
        amount=Decimal("5.00"),
        status="succeeded",
        completed_at=datetime(2026, 3, 20, 9, 0, tzinfo=UTC),
    )
    RefundFactory(payment=payment, amount=Decimal("2.50"), status="pending")
    RefundFactory(payment=payment, amount=Decimal("3.00"), status="failed")

    pdf = receipt_pdf(payment)

    lines = page_text(pdf)
    assert "Refunds Amount Status" in lines
    assert "March 20, 2026 5.00 EUR Succeeded" in lines
    assert sum(line.endswith("2.50 EUR Pending") for line in lines) == 1
    assert sum(line.endswith("3.00 EUR Failed") for line in lines) == 1
    # Only the refund that went through is deducted.
    assert "Amount paid 19.90 EUR" in lines
    assert "Refunded 5.00 EUR" in lines
    assert "Net amount paid 14.90 EUR" in lines
    assert len(pdfium.PdfDocument(pdf)) == 1
    assert font_warnings() == []
    render_page(pdf, "receipt-en-refunds")


def test_a_receipt_without_refunds_shows_no_refund_lines(make_payment):
    lines = page_text(receipt_pdf(make_payment(language="en")))

    assert "Amount paid 19.90 EUR" in lines
    assert not any(line.startswith(("Refunds", "Refunded", "Net amount")) for line in lines)


@pytest.mark.parametrize(
    ("currency", "amount", "refund", "language", "paid", "net"),
    [
        ("JPY", "1500", "500", "en", "1,500 JPY", "1,000 JPY"),
        ("JPY", "1500", "500", "fr", "1 500 JPY", "1 000 JPY"),
        ("KWD", "12.5", "2.25", "en", "12.500 KWD", "10.250 KWD"),
        ("EUR", "1500", "0.10", "en", "1,500.00 EUR", "1,499.90 EUR"),
    ],
)
def test_amounts_have_the_currencys_own_decimals(make_payment, currency, amount, refund, language, paid, net):
    payment = make_payment(amount=amount, currency=currency, language=language)
    RefundFactory(payment=payment, amount=Decimal(refund), status="succeeded", completed_at=PAID_AT)

    text = " | ".join(page_text(receipt_pdf(payment)))

    assert paid in text
    assert net in text
    if currency == "JPY":
        assert "1,500.00" not in text and "1 500,00" not in text


@pytest.mark.parametrize(
    ("zone", "paid_on"),
    [
        ("Europe/Paris", "March 15, 2026, 00:30 (Europe/Paris time)"),
        ("Asia/Shanghai", "March 15, 2026, 07:30 (Asia/Shanghai time)"),
        ("America/New_York", "March 14, 2026, 19:30 (America/New_York time)"),
    ],
)
def test_the_payment_time_is_in_the_customers_zone(make_payment, zone, paid_on):
    payment = make_payment(language="en", timezone=zone)

    # The zone active in the caller (a staff member in Tokyo) does not matter.
    with timezone.override("Asia/Tokyo"):
        lines = page_text(receipt_pdf(payment))

    assert paid_on in lines
    assert not any("23:30" in line for line in lines)  # the UTC time


@pytest.mark.parametrize("status", [Payment.Status.PENDING, Payment.Status.PROCESSING, Payment.Status.FAILED])
def test_an_unpaid_payment_has_no_receipt(db, status):
    payment = PaymentFactory(status=status, paid_at=None, receipt_number=None)

    with pytest.raises(ReceiptUnavailable) as excinfo:
        receipt_pdf(payment)

    assert isinstance(excinfo.value, DomainError)
    assert excinfo.value.code == "receipt_unavailable"
    with translation.override("fr"):
        assert str(excinfo.value.message) == "Ce paiement n'a pas de reçu : seul un paiement abouti en a un."


def test_the_receipt_is_in_the_customers_language_by_default(make_payment):
    lines = page_text(receipt_pdf(make_payment(language="fr")))

    assert "Reçu" in lines
    assert "Montant payé 19,90 EUR" in lines


def test_an_unknown_language_falls_back_to_english(make_payment):
    lines = page_text(receipt_pdf(make_payment(language="fr"), language="de"))

    assert "Receipt" in lines
    assert "Amount paid 19.90 EUR" in lines
    assert "Payment method Card" in lines


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("fr-CA", "fr"),
        ("fr_FR", "fr"),
        ("zh-hans", "zh-hans"),
        ("zh_Hans", "zh-hans"),
        ("zh-cn", "zh-hans"),
        ("de", "en"),
        ("pt-br", "en"),
        ("xx-unknown", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_receipt_language_picks_the_closest_supported_language(code, expected):
    assert receipt_language(code) == expected


def test_the_seller_comes_from_settings(make_payment, settings):
    settings.RECEIPT_SELLER_NAME = "Voyages Lumière SARL"
    settings.RECEIPT_SELLER_ADDRESS = "1 place Bellecour\n69002 Lyon"
    settings.RECEIPT_SELLER_VAT_NUMBER = "FR12 345678901"
    settings.RECEIPT_SELLER_SIRET = "345 678 901 00023"
    settings.RECEIPT_SELLER_EMAIL = "aide@voyages-lumiere.example"

    lines = page_text(receipt_pdf(make_payment(language="fr")))

    assert lines[:5] == [
        "Voyages Lumière SARL",
        "1 place Bellecour",
        "69002 Lyon",
        "N° de TVA : FR12 345678901",
        "SIRET : 345 678 901 00023",
    ]
    assert "Une question sur ce reçu : aide@voyages-lumiere.example" in lines


# ------------------------------------------------------------------ characters no font has


def rare_hanzi_font(path: Path) -> Path:
    """A one-glyph font for 䶮 (U+4DAE, CJK Extension A, not in GB 2312): a filled square."""
    builder = FontBuilder(1000, isTTF=False)
    builder.setupGlyphOrder([".notdef", "uni4DAE"])
    builder.setupCharacterMap({0x4DAE: "uni4DAE"})
    pen = T2CharStringPen(1000, None)
    pen.moveTo((100, -50))
    pen.lineTo((900, -50))
    pen.lineTo((900, 750))
    pen.lineTo((100, 750))
    pen.closePath()
    square = pen.getCharString()
    builder.setupCFF(
        "RareHanzi-Regular",
        {},
        {".notdef": T2CharStringPen(500, None).getCharString(), "uni4DAE": square},
        {},
    )
    builder.setupHorizontalMetrics({".notdef": (500, 0), "uni4DAE": (1000, 0)})
    builder.setupHorizontalHeader(ascent=880, descent=-120)
    builder.setupNameTable({"familyName": "Rare Hanzi", "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=880, sTypoDescender=-120, usWinAscent=880, usWinDescent=120)
    builder.setupPost()
    builder.save(path)
    return path


def test_a_character_outside_the_font_is_drawn_from_a_fallback_font(
    make_payment, settings, tmp_path, font_warnings
):
    settings.RECEIPT_FALLBACK_FONTS = [
        str(tmp_path / "missing.ttf"),
        str(rare_hanzi_font(tmp_path / "rare.otf")),
    ]
    payment = make_payment(full_name="王䶮", language="zh-hans")

    pdf = receipt_pdf(payment)

    assert "姓名 王䶮" in page_text(pdf)
    assert ink(glyph_images(pdf, "䶮")["䶮"]) > 0.5  # the fallback's filled square
    assert font_warnings() == []


def test_a_character_no_font_has_prints_as_a_box_and_is_logged(make_payment, settings, font_warnings):
    settings.RECEIPT_FALLBACK_FONTS = []
    payment = make_payment(full_name="王䶮 😀", language="zh-hans")

    pdf = receipt_pdf(payment)

    assert "姓名 王□ □" in page_text(pdf)
    advice = "install fonts-noto-cjk or set RECEIPT_FALLBACK_FONTS"
    assert font_warnings() == [
        f"receipt R2026-000123: no font has U+4DAE, printed as □; {advice}",
        f"receipt R2026-000123: no font has U+1F600, printed as □; {advice}",
    ]


# ------------------------------------------------------------------ controls for the glyph check


def test_control_a_font_drawing_chinese_as_notdef_boxes_fails_the_glyph_check(
    make_payment, receipt_font, tofu_font, notdef_boxes
):
    payment = make_payment(full_name="王小明", language="zh-hans")
    receipt_font(tofu_font)

    pdf = receipt_pdf(payment)

    # The text layer is right, which is why it is not enough: the page shows boxes.
    assert "姓名 王小明" in page_text(pdf)
    boxes = glyph_images(pdf, HANZI)
    assert all(difference(boxes[character], notdef_boxes[character]) == 0 for character in HANZI)
    assert all(difference(boxes["王"], boxes[character]) < 0.04 for character in HANZI)
    with pytest.raises(AssertionError, match=r"drawn as the \.notdef box"):
        assert_real_glyphs(pdf, HANZI, notdef_boxes)
    render_page(pdf, "control-tofu-font")


def test_control_a_font_without_chinese_glyphs_fails_the_glyph_check(
    make_payment, receipt_font, latin_only_font, notdef_boxes, font_warnings
):
    payment = make_payment(full_name="王小明", language="zh-hans")
    receipt_font(latin_only_font)

    pdf = receipt_pdf(payment)

    assert "姓名 王小明" not in page_text(pdf)
    with pytest.raises(AssertionError, match="missing from the text layer"):
        assert_real_glyphs(pdf, HANZI, notdef_boxes)
    assert any("no font has U+738B" in warning for warning in font_warnings())  # 王
