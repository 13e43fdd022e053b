"""PDF documents (pick lists, purchase orders, receipts, cards) rendered with WeasyPrint.

Templates extend ``documents/base.html``, which sets A4/A5 pages and a CJK font stack
(settings.PDF_FONT_FAMILY; Debian's fonts-noto-cjk provides "Noto Sans CJK SC").
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string


def render_html(template: str, context: dict[str, Any]) -> str:
    return render_to_string(template, {"pdf_font_family": settings.PDF_FONT_FAMILY, **context})


def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    from weasyprint import HTML

    html = render_html(template, context)
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
