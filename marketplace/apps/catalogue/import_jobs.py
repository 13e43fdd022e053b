"""Large catalogue imports as a task (issue 11: a 13 MB file took 174 s, past nginx's timeout).

``start_import`` stores the upload privately and queues ``run_import`` after the request's
transaction commits (in-process at once without a broker); the supplier portal shows the job's
status, refreshing itself until the report is there. The import itself is the same
``import_catalogue`` as for small files: all rows validated, nothing written unless all pass."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from marketplace.apps.partner.models import Partner
from marketplace.core import permissions
from marketplace.core.models import ImportJob

from .importer import import_catalogue

logger = logging.getLogger(__name__)
KIND = "catalogue"


def start_import(actor: Any, partner: Partner, upload: UploadedFile) -> ImportJob:
    permissions.require(permissions.can_manage_partner(actor, partner), "无权为该供应商导入商品")
    job = ImportJob(kind=KIND, owner=actor, target_id=partner.pk, filename=upload.name[:255], size=upload.size)
    job.file.save(upload.name, upload, save=False)
    job.save()
    from .tasks import run_import_task

    transaction.on_commit(lambda: run_import_task.delay(job.pk))
    return job


def run_import(job_id: int) -> None:
    updated = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING
    )
    if not updated:
        return  # already run (a redelivered task)
    job = ImportJob.objects.select_related("owner").get(pk=job_id)
    try:
        partner = Partner.objects.get(pk=job.target_id)
        with job.file.open("rb") as handle:
            report = import_catalogue(job.owner, partner, handle, filename=job.filename)
        job.report = asdict(report)
        job.status = ImportJob.Status.DONE
    except Exception as exc:  # recorded on the job the page shows, with the traceback in the log
        logger.exception("catalogue import job %s failed", job_id)
        message = "; ".join(getattr(exc, "messages", [])) or gettext("导入失败，请检查文件后重试")
        job.report = {"file_error": message}
        job.status = ImportJob.Status.FAILED
    job.finished_at = timezone.now()
    job.save(update_fields=["report", "status", "finished_at"])
    job.file.delete(save=True)


def job_for(actor: Any, job_id: Any) -> ImportJob | None:
    """The actor's own import job, or None (another user's job id shows nothing)."""
    try:
        return ImportJob.objects.filter(owner=actor, kind=KIND, pk=int(job_id)).first()
    except (TypeError, ValueError):
        return None
