"""Oscar's own storefront (/shop/ basket, checkout, registration, catalogue, accounts) is not a
place users work: the light storefront and the plugins' pages are (orders through stations: the
station's direct order with its own basket and checkout — docs/station-orders.md, on Oscar's Basket,
Strategy and OrderCreator —, group buys, the fertilizer plan hand-over). Every /shop/ URL except Oscar's dashboard — the operators'
back office — redirects to the product's own page. Oscar's URLs stay included after the gate so
that ``reverse()`` in Oscar's dashboard templates keeps working.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponseRedirect
from django.urls import re_path, reverse
from django.utils.http import urlencode

_PRODUCT = re.compile(r"^catalogue/(?:[\w-]+_)?(?P<pk>\d+)/")


def shop_gate(request: HttpRequest, rest: str = "") -> HttpResponseRedirect:
    match = _PRODUCT.match(rest)
    if match:
        return HttpResponseRedirect(reverse("storefront:catalogue-product", args=[int(match["pk"])]))
    if rest.startswith(("catalogue", "search")):
        query = request.GET.get("q", "")
        target = reverse("storefront:catalogue")
        return HttpResponseRedirect(f"{target}?{urlencode({'q': query})}" if query else target)
    if rest.startswith("accounts/login"):
        target = reverse("login")
        nxt = request.GET.get("next", "")
        return HttpResponseRedirect(f"{target}?{urlencode({'next': nxt})}" if nxt else target)
    if rest.startswith("accounts/logout"):
        return HttpResponseRedirect(reverse("logout"))
    # basket, checkout, registration, profile, offers, wishlists, the shop's home: the storefront
    return HttpResponseRedirect(reverse("storefront:home"))


urlpatterns = [re_path(r"^shop/(?!dashboard/)(?P<rest>.*)$", shop_gate, name="shop-gate")]
