"""Core records shared by every feature: outgoing notifications."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    class Channel(models.TextChoices):
        SMS = "sms", _("短信")
        EMAIL = "email", _("邮件")

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("失败")

    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.SMS)
    recipient = models.CharField(max_length=128)
    text = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    provider_id = models.CharField(max_length=128, blank=True)
    error = models.CharField(max_length=255, blank=True)
    #: Makes a resend of the same event a no-op (e.g. "campaign:12:closed:household:7").
    dedupe_key = models.CharField(max_length=191, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.channel} → {self.recipient}: {self.text[:30]}"
