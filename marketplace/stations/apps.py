from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StationsConfig(AppConfig):
    name = "marketplace.stations"
    label = "stations"
    verbose_name = _("益农信息社")
