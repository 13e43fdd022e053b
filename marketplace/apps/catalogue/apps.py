import oscar.apps.catalogue.apps as apps


class CatalogueConfig(apps.CatalogueConfig):
    name = "marketplace.apps.catalogue"

    def ready(self) -> None:
        super().ready()
        from marketplace.core.extensions import register_core_offer_provider

        from .services import stock_offers

        register_core_offer_provider(stock_offers)

        from django.db.models.signals import post_delete, post_save, pre_save
        from oscar.core.loading import get_model

        from . import compliance

        StockRecord = get_model("partner", "StockRecord")
        PartnerLicence = get_model("partner", "PartnerLicence")
        Product = get_model("catalogue", "Product")
        pre_save.connect(compliance.check_new_stockrecord, sender=StockRecord, dispatch_uid="compliance-new-stock")
        post_save.connect(
            compliance.notify_new_blocked_stockrecord, sender=StockRecord, dispatch_uid="compliance-new-stock-sms"
        )

        def licence_changed(sender, instance, raw=False, **kwargs):
            if not raw:
                compliance.recheck_after_change(partner_ids=[instance.partner_id])

        def product_changed(sender, instance, raw=False, created=False, **kwargs):
            if not raw and not created:
                compliance.recheck_after_change(product_ids=[instance.pk])

        post_save.connect(licence_changed, sender=PartnerLicence, weak=False, dispatch_uid="compliance-licence")
        post_delete.connect(licence_changed, sender=PartnerLicence, weak=False, dispatch_uid="compliance-licence-del")
        post_save.connect(product_changed, sender=Product, weak=False, dispatch_uid="compliance-product")
