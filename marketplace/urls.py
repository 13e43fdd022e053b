import re
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from marketplace.core import private_media, shop_gate
from marketplace.core.extensions import plugins
from marketplace.core.health import healthz, readyz
from marketplace.graphql.catalogue.response_cache import CachingGraphQLView
from marketplace.payments.views import stripe_webhook

urlpatterns = [
    path("", include("storefront.urls")),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("graphql/", CachingGraphQLView.as_view(graphiql=settings.DEBUG), name="graphql"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("payments/stripe/webhook/", stripe_webhook, name="stripe-webhook"),
    path("files/licences/<int:pk>/", private_media.partner_licence_file, name="partner-licence-file"),
    path("files/station-licences/<int:pk>/", private_media.station_licence_file, name="station-licence-file"),
    path("admin/", admin.site.urls),
    # Oscar: the dashboard stays (operators' back office); every other /shop/ page redirects to
    # the storefront (marketplace/core/shop_gate.py). The include keeps Oscar's URL names.
    *shop_gate.urlpatterns,
    path("shop/", include(apps.get_app_config("oscar").urls[0])),
]

for plugin in plugins():
    patterns = list(plugin.storefront_urls())
    if patterns:
        urlpatterns.append(path(f"p/{plugin.plugin_slug}/", include((patterns, plugin.plugin_slug))))

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, view=private_media.public_media)
elif settings.SERVE_MEDIA and not urlsplit(settings.MEDIA_URL).netloc:
    # Embedded server with DEBUG off (serve_embedded): the app serves media itself (not the private
    # prefixes); production leaves public media to nginx or the object store.
    urlpatterns.append(
        re_path(rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.*)$", private_media.public_media)
    )
