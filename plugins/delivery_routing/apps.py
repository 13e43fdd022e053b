from django.utils.translation import gettext_lazy as _

from marketplace.core.extensions import MarketplacePlugin


class DeliveryRoutingConfig(MarketplacePlugin):
    default = True
    name = "plugins.delivery_routing"
    label = "delivery_routing"
    verbose_name = _("配送路线")
    plugin_slug = "routing"
