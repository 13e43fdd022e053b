from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StationsConfig(AppConfig):
    name = "marketplace.stations"
    label = "stations"
    verbose_name = _("益农信息社")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from marketplace.core.permissions import membership_changed

        from .models import StationStaff

        post_save.connect(membership_changed, sender=StationStaff, dispatch_uid="station-staff-saved")
        post_delete.connect(membership_changed, sender=StationStaff, dispatch_uid="station-staff-deleted")
