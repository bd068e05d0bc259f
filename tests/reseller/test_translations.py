"""Staff and customers read the product in Chinese, English or French."""

import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from reseller.validators import validate_e164
from tests.auth.second_factor import login_staff

LOCALE = Path(__file__).resolve().parents[2] / "locale"


def _joined(lines: str) -> str:
    return "".join(re.findall(r'"(.*)"', lines))


def catalogue_entries(path: Path):
    """(msgid, msgstr, flags) of each entry in a .po file, multi-line strings joined; a plural
    entry gives one (msgid, msgstr) per form, its msgid_plural with the plural forms."""
    text = path.read_text(encoding="utf-8")
    for block in text.split("\n\n"):
        flags = " ".join(line for line in block.splitlines() if line.startswith("#,"))
        if "msgid " not in block:
            continue
        head, _, translations = block.split("msgid ", 1)[-1].partition("msgstr")
        singular, _, plural = head.partition("msgid_plural ")
        msgid = _joined(singular)
        if not msgid:
            continue
        if not plural:
            yield msgid, _joined(translations), flags
            continue
        forms = re.split(r"msgstr\[\d+\] ", "msgstr" + translations)[1:]
        for index, form in enumerate(forms):
            yield (msgid if index == 0 else _joined(plural)), _joined(form), flags


@pytest.mark.parametrize("language", ["fr", "zh_Hans"])
def test_every_string_is_translated_and_none_is_fuzzy(language):
    entries = list(catalogue_entries(LOCALE / language / "LC_MESSAGES" / "django.po"))
    assert len(entries) > 200
    assert [msgid for msgid, msgstr, _ in entries if not msgstr] == []
    assert [msgid for msgid, _, flags in entries if "fuzzy" in flags] == []


@pytest.mark.parametrize("language", ["fr", "zh_Hans"])
def test_translations_keep_every_placeholder(language):
    for msgid, msgstr, _ in catalogue_entries(LOCALE / language / "LC_MESSAGES" / "django.po"):
        assert set(re.findall(r"%\(\w+\)s", msgid)) == set(re.findall(r"%\(\w+\)s", msgstr)), msgid


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [("fr", "Clients et lignes"), ("zh-hans", "客户与线路"), ("en", "Customers and lines")],
)
def test_the_admin_speaks_the_staff_members_language(
    client, manager, compiled_catalogues, accept_language, expected
):
    login_staff(client, manager)
    response = client.get(reverse("admin:index"), headers={"Accept-Language": accept_language})
    assert expected in response.content.decode()


def test_rule_messages_are_translated(compiled_catalogues):
    with translation.override("zh-hans"):
        with pytest.raises(ValidationError) as excinfo:
            validate_e164("0612")
        assert "国际格式" in str(excinfo.value.messages[0])
