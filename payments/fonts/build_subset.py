"""Rebuild ReceiptSansSC-Regular.otf, the font receipts are set in, from Noto Sans CJK.

Not run by the product nor by CI: the subset is vendored. To rebuild it (to change the
character set, or for a new Noto Sans CJK release)::

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb noto
    .venv/bin/python payments/fonts/build_subset.py \\
        noto/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

The source is Debian's fonts-noto-cjk 1:20220127+repack1-1 (Noto Sans CJK 2.004 by Adobe and
Google, SIL Open Font License 1.1), face 2 of the collection (Simplified Chinese glyph forms).

What is kept: every character of GB 2312 (the 6,763 hanzi of everyday Simplified Chinese
plus its punctuation, Greek, Cyrillic and kana), the whole main CJK ideograph block (U+4E00 to
U+9FFF, for the rarer characters of people's names), the Latin alphabets (Basic Latin, Latin-1,
Latin Extended-A/B and Additional, so French, other European and Vietnamese names), general
and CJK punctuation, currency signs, arrows and full-width forms. Hints and OpenType layout
features are dropped: the PDF is drawn without shaping, and hints only matter on screens at
small sizes. Characters outside this set go to the fallback fonts (see receipt_pdf.py).

The family is renamed "Receipt Sans SC": the licence asks modified versions not to use the
reserved name "Source", and "Noto" is Google's trademark, so the subset carries a name of its
own while keeping the copyright and licence fields.
"""

import sys
from pathlib import Path

from fontTools import subset

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "ReceiptSansSC-Regular.otf"
SIMPLIFIED_CHINESE_FACE = 2  # JP, KR, SC, TC, HK, then the Mono faces
FAMILY = "Receipt Sans SC"
POSTSCRIPT_NAME = "ReceiptSansSC-Regular"

UNICODE_RANGES = [
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x024F),  # Latin-1 Supplement, Latin Extended-A and -B
    (0x0300, 0x036F),  # combining diacritical marks
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese)
    (0x2000, 0x206F),  # general punctuation
    (0x20A0, 0x20C0),  # currency symbols
    (0x2100, 0x214F),  # letterlike symbols (№, ™)
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # mathematical operators (−, ×)
    (0x25A0, 0x25FF),  # geometric shapes (□, the placeholder for a character no font has)
    (0x3000, 0x303F),  # CJK symbols and punctuation
    # The whole main block of CJK ideographs, not only GB 2312: names use characters such as
    # 玥, 喆, 堃, 昇, 珺 that GB 2312 lacks, and a receipt must print a customer's own name.
    (0x4E00, 0x9FFF),
    (0xFF00, 0xFFEF),  # half-width and full-width forms
]


def gb2312_characters() -> set[str]:
    """Every character GB 2312 encodes, read from Python's own codec."""
    characters = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                characters.add(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return characters


def build(source: Path) -> Path:
    unicodes = {ord(character) for character in gb2312_characters()}
    unicodes |= {code for first, last in UNICODE_RANGES for code in range(first, last + 1)}

    options = subset.Options()
    options.font_number = SIMPLIFIED_CHINESE_FACE
    options.layout_features = []
    options.hinting = False
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=unicodes)
    subsetter.subset(font)

    names = font["name"]
    version = names.getDebugName(5) or ""
    for record in list(names.names):
        if record.nameID in (1, 3, 4, 6, 16, 17, 18, 21, 22):
            names.removeNames(nameID=record.nameID)
    names.setName(FAMILY, 1, 3, 1, 0x409)
    names.setName(f"{POSTSCRIPT_NAME};subset of NotoSansCJKsc-Regular {version}", 3, 3, 1, 0x409)
    names.setName(FAMILY, 4, 3, 1, 0x409)
    names.setName(POSTSCRIPT_NAME, 6, 3, 1, 0x409)
    names.setName(
        "Subset of Noto Sans CJK SC Regular (Adobe and Google, SIL Open Font License 1.1) for receipts.",
        10,
        3,
        1,
        0x409,
    )
    cff = font["CFF "].cff
    top = cff.topDictIndex[0]
    cff.fontNames = [POSTSCRIPT_NAME]
    top.FullName = FAMILY
    top.FamilyName = FAMILY
    for font_dict in getattr(top, "FDArray", []):  # "NotoSansCJKjp-Regular-Ideographs" and so on
        font_dict.FontName = f"{POSTSCRIPT_NAME}-{font_dict.FontName.split('-', 2)[-1]}"

    font.save(OUTPUT)
    return OUTPUT


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    built = build(Path(sys.argv[1]))
    print(f"{built}: {built.stat().st_size:,} bytes")
