"""Core records shared by every feature: outgoing notifications."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .storage import private_storage
from .uploads import TABLE, UploadFileField


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


class ImportJob(models.Model):
    """A large table import run as a task (issue 11): the page shows its status until it is done.

    The uploaded file is kept in private storage (``imports/``, never under a public URL) until the
    task has read it; ``report`` holds the importer's result (rows, counts, row/column errors)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("导入中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    kind = models.CharField(max_length=32)  # e.g. "catalogue"
    owner = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    target_id = models.PositiveBigIntegerField()  # e.g. the partner the catalogue is for
    filename = models.CharField(max_length=255)
    file = UploadFileField(upload_to="imports/%Y/", storage=private_storage, blank=True, kind=TABLE)
    size = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    report = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("导入任务")
        verbose_name_plural = _("导入任务")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} import {self.filename} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
