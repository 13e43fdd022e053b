from django.utils.translation import gettext_lazy as _

from marketplace.core.extensions import MarketplacePlugin


class FertilizerConfig(MarketplacePlugin):
    default = True
    name = "plugins.fertilizer"
    label = "fertilizer"
    verbose_name = _("测土配方施肥")
    plugin_slug = "fertilizer"
