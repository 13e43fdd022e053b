from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SearchConfig(AppConfig):
    name = "marketplace.search"
    label = "marketplace_search"
    verbose_name = _("商品搜索")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects index-sync receivers)
