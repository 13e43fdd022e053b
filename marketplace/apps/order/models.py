"""Oscar's order app, forked: an order may be placed by station staff for a farmer household."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from oscar.apps.order.abstract_models import AbstractOrder


class Order(AbstractOrder):
    station = models.ForeignKey(
        "stations.Station",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("站点"),
    )
    household = models.ForeignKey(
        "stations.Household",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("农户"),
    )
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("代下单人"),
    )


class StationBasket(models.Model):
    """Which household an Oscar basket is for: station staff keep one basket per household they order
    for (``docs/station-orders.md``). The basket is Oscar's own (owner = the staff member); it is kept
    in Oscar's ``Saved`` status, because Oscar's BasketMiddleware merges every ``Open`` basket of a
    user into one."""

    basket = models.OneToOneField("basket.Basket", on_delete=models.CASCADE, related_name="station_basket")
    household = models.ForeignKey(
        "stations.Household", on_delete=models.CASCADE, related_name="+", verbose_name=_("农户")
    )
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    is_open = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["staff", "household"],
                condition=models.Q(is_open=True),
                name="uniq_open_station_basket",
            )
        ]

    def __str__(self) -> str:
        return f"basket {self.basket_id} for household {self.household_id}"


class DirectOrder(models.Model):
    """A station's direct order (stock a supplier has on hand, outside a group buy): the checkout key
    that makes placing it idempotent, the payment booked for it and the household's pickup code."""

    order = models.OneToOneField("order.Order", on_delete=models.CASCADE, related_name="direct")
    checkout_key = models.CharField(max_length=128, unique=True)
    payment = models.ForeignKey(
        "payments.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    pickup_code = models.CharField(_("取货码"), max_length=6)
    received_at = models.DateTimeField(_("到站时间"), null=True, blank=True)
    collected_at = models.DateTimeField(_("取货时间"), null=True, blank=True)
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"direct order {self.order_id}"


from oscar.apps.order.models import *  # noqa: E402,F403
