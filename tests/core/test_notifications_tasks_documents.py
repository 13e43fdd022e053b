from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from pypdf import PdfReader

from marketplace.accounts.models import ApiToken
from marketplace.core.documents import render_pdf
from marketplace.core.models import Notification
from marketplace.core.periodic import EmbeddedBeat
from marketplace.core.sms import send_sms

pytestmark = pytest.mark.django_db


def test_sms_is_recorded_delivered_and_deduplicated(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = send_sms("13812345678", "您的团购已成团", dedupe_key="campaign:1:household:1")
        again = send_sms("13812345678", "您的团购已成团", dedupe_key="campaign:1:household:1")
    assert again is None
    first.refresh_from_db()
    assert first.status == Notification.Status.SENT
    assert first.provider_id.startswith("log-")
    assert Notification.objects.count() == 1


def test_failing_gateway_is_recorded_not_raised(settings, django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = "conftest_sms.BrokenGateway"
    with django_capture_on_commit_callbacks(execute=True):
        note = send_sms("13812345678", "测试")
    note.refresh_from_db()
    assert note.status == Notification.Status.FAILED
    assert "gateway down" in note.error


def test_bulk_notifications_are_delivered_by_one_task(settings, django_capture_on_commit_callbacks):
    from django.db import transaction

    from marketplace.core.sms import queue_delivery
    from marketplace.core.tasks import deliver_notifications

    notes = Notification.objects.bulk_create(
        [Notification(recipient=f"1381234567{i}", text="成团", dedupe_key=f"bulk:{i}") for i in range(3)]
    )
    ids = list(Notification.objects.filter(dedupe_key__startswith="bulk:").values_list("pk", flat=True))
    assert len(notes) == len(ids) == 3
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        queue_delivery(ids)
    assert len(callbacks) == 1  # one task for the whole batch, not one per message
    assert set(Notification.objects.values_list("status", flat=True)) == {Notification.Status.SENT}
    assert deliver_notifications(ids) == 0  # already sent: a re-delivered task sends nothing twice
    settings.SMS_BACKEND = "conftest_sms.BrokenGateway"
    broken = Notification.objects.create(recipient="13812345679", text="x", dedupe_key="bulk:broken")
    assert deliver_notifications([broken.pk]) == 0
    broken.refresh_from_db()
    assert broken.status == Notification.Status.FAILED and "gateway down" in broken.error


def test_embedded_beat_runs_core_tasks(staff_a):
    old, _ = ApiToken.issue(staff_a)
    ApiToken.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=31))
    fresh, _ = ApiToken.issue(staff_a)
    beat = EmbeddedBeat()
    ran = beat.run_due()
    assert "core.purge-expired-api-tokens" in ran
    assert list(ApiToken.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert beat.run_due() == []  # not due again until its interval has passed


def test_run_periodic_command_once(staff_a):
    out = io.StringIO()
    call_command("run_periodic", "--once", stdout=out)
    assert "core.purge-expired-api-tokens" in out.getvalue()


def test_pdf_renders_chinese_text():
    from django.template import engines

    pdf = render_pdf("documents/base.html", {})
    assert pdf.startswith(b"%PDF")
    template = engines["django"].from_string(
        '{% extends "documents/base.html" %}{% block body %}<h1>站点拣货单</h1><table><tr><td>张国华</td>'
        "<td>尿素 46% × 3 袋</td></tr></table>{% endblock %}"
    )
    from django.conf import settings

    html = template.render({"pdf_font_family": settings.PDF_FONT_FAMILY})
    from weasyprint import HTML

    data = HTML(string=html).write_pdf()
    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert "站点拣货单" in text and "张国华" in text
