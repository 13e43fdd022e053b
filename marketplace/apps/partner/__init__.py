default_app_config = "marketplace.apps.partner.apps.PartnerConfig"
