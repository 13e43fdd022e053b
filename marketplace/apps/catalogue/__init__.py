default_app_config = "marketplace.apps.catalogue.apps.CatalogueConfig"
