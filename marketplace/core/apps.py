from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def sync_site_domain(**kwargs) -> None:
    """The Site row (used for absolute links: password reset e-mails, …) follows settings.SITE_DOMAIN."""
    from django.conf import settings
    from django.contrib.sites.models import Site

    Site.objects.using(kwargs.get("using", "default")).update_or_create(
        pk=settings.SITE_ID, defaults={"domain": settings.SITE_DOMAIN, "name": settings.OSCAR_SHOP_NAME}
    )


class CoreConfig(AppConfig):
    name = "marketplace.core"
    label = "core"
    verbose_name = _("平台核心")

    def ready(self) -> None:
        post_migrate.connect(sync_site_domain, sender=self, dispatch_uid="core.sync_site_domain")
