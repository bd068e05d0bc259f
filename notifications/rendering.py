"""Message texts. Each kind has one e-mail template, templates/notifications/email/<kind>.txt,
with a ``subject`` and a ``body`` block, and the kinds sent by SMS one SMS template,
templates/notifications/sms/<kind>.txt. Callers render inside translation.override and
timezone.override for the customer; every word is in the translation catalogues."""

import re

from django.template import Context
from django.template.loader import get_template
from django.template.loader_tags import BlockNode

_BLANK_LINES = re.compile(r"\n{3,}")


def render_email(kind: str, context: dict) -> tuple[str, str]:
    """(subject, plain-text body): the subject on one line, the body's paragraphs separated
    by a single blank line whatever the template tags' own line breaks."""
    blocks = _render_blocks(f"notifications/email/{kind}.txt", context)
    subject = " ".join(blocks["subject"].split())
    lines = [line.strip() for line in blocks["body"].splitlines()]
    body = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return subject, body


def render_sms(kind: str, context: dict) -> str:
    """One line of text, for a single SMS segment (see tests/notifications/test_texts.py)."""
    template = get_template(f"notifications/sms/{kind}.txt").template
    return " ".join(template.render(Context(context, autoescape=False)).split())


def _render_blocks(name: str, context: dict) -> dict[str, str]:
    template = get_template(name).template
    ctx = Context(context, autoescape=False)  # plain text: "&" stays "&"
    with ctx.render_context.push_state(template), ctx.bind_template(template):
        blocks = {node.name: node.render(ctx) for node in template.nodelist.get_nodes_by_type(BlockNode)}
    missing = {"subject", "body"} - set(blocks)
    if missing:
        raise ValueError(f"{name} lacks the block(s) {sorted(missing)}")
    return blocks
