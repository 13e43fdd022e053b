import oscar.apps.catalogue.apps as apps


class CatalogueConfig(apps.CatalogueConfig):
    name = "marketplace.apps.catalogue"

    def ready(self) -> None:
        super().ready()
        from marketplace.core.extensions import register_core_offer_provider

        from .services import stock_offers

        register_core_offer_provider(stock_offers)
