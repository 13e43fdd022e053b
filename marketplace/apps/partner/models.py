"""Oscar's partner app, forked: a partner is a supplier or a cooperative, verified by operators."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from oscar.apps.partner.abstract_models import AbstractPartner


class PartnerKind(models.TextChoices):
    SUPPLIER = "supplier", _("农资供应商")
    COOPERATIVE = "cooperative", _("合作社")


class VerificationStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    APPROVED = "approved", _("已通过")
    REJECTED = "rejected", _("已驳回")
    SUSPENDED = "suspended", _("已暂停")


class Partner(AbstractPartner):
    kind = models.CharField(
        _("类型"), max_length=16, choices=PartnerKind.choices, default=PartnerKind.SUPPLIER
    )
    verification_status = models.CharField(
        _("审核状态"), max_length=16, choices=VerificationStatus.choices, default=VerificationStatus.PENDING
    )
    verified_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)

    @property
    def is_verified(self) -> bool:
        return self.verification_status == VerificationStatus.APPROVED


from oscar.apps.partner.models import *  # noqa: E402,F403
