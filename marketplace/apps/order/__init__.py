default_app_config = "marketplace.apps.order.apps.OrderConfig"
