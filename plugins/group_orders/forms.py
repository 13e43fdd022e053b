"""The campaign form of the supplier pages: campaign fields, up to ITEM_ROWS products each with up
to TIER_ROWS price tiers, and the stations/counties it is open to. Parses into the arguments of
services.create_campaign / update_campaign; errors name the row."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from marketplace.stations.models import County, Station

from .models import Campaign
from .services import ItemSpec

ITEM_ROWS = 3
TIER_ROWS = 3


class CampaignForm(forms.Form):
    title = forms.CharField(label=_("团购名称"), max_length=128)
    description = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    cutoff_at = forms.DateTimeField(
        label=_("截单时间"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    delivery_from = forms.DateField(label=_("配送开始"), widget=forms.DateInput(attrs={"type": "date"}))
    delivery_until = forms.DateField(label=_("配送结束"), widget=forms.DateInput(attrs={"type": "date"}))
    min_total_quantity = forms.IntegerField(label=_("成团最低总量"), min_value=1)
    max_total_quantity = forms.IntegerField(label=_("供货上限"), min_value=1, required=False)
    per_household_limit = forms.IntegerField(
        label=_("每户限购"), min_value=0, initial=0, help_text=_("0 表示不限")
    )
    commission_rate = forms.DecimalField(
        label=_("站点佣金(%)"), min_value=0, max_value=30, decimal_places=2, initial=Decimal("3")
    )
    uncollected_days = forms.IntegerField(label=_("逾期未取天数"), min_value=1, max_value=90, initial=14)
    counties = forms.ModelMultipleChoiceField(
        label=_("开放县区"),
        queryset=County.objects.order_by("code"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    stations = forms.ModelMultipleChoiceField(
        label=_("开放站点"),
        queryset=Station.objects.filter(is_active=True).order_by("code"),
        required=False,
        help_text=_("不选县区和站点即面向全部站点"),
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )

    def __init__(self, *args: Any, products: list[tuple[int, str, Decimal]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.products = products  # (product id, title, list price) the supplier has stock of
        self.items: list[ItemSpec] = []
        self.item_rows = self._item_rows()

    def _item_rows(self) -> list[dict[str, Any]]:
        source = self.data if self.is_bound else self.initial.get("item_rows_data", {})
        rows = []
        for i in range(ITEM_ROWS):
            rows.append(
                {
                    "index": i,
                    "product": str(source.get(f"item{i}_product", "")),
                    "base": str(source.get(f"item{i}_base", "")),
                    "tiers": [
                        (
                            str(source.get(f"item{i}_tier{t}_qty", "")),
                            str(source.get(f"item{i}_tier{t}_price", "")),
                        )
                        for t in range(TIER_ROWS)
                    ],
                }
            )
        return rows

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        known = {str(pid) for pid, _, _ in self.products}
        items: list[ItemSpec] = []
        errors = []
        for row in self.item_rows:
            n = row["index"] + 1
            if not row["product"]:
                continue
            if row["product"] not in known:
                errors.append(gettext("第 %(n)s 个商品：请选择本企业有库存的商品") % {"n": n})
                continue
            try:
                base = Decimal(row["base"])
                tiers = [(int(q), Decimal(p)) for q, p in row["tiers"] if q.strip() or p.strip()]
            except (InvalidOperation, ValueError):
                errors.append(gettext("第 %(n)s 个商品：原价、阶梯数量和单价须为数字") % {"n": n})
                continue
            items.append(ItemSpec(int(row["product"]), base, tiers))
        if errors:
            raise ValidationError(errors)
        if not items:
            raise ValidationError(gettext("至少需要一个商品"))
        self.items = items
        return data

    def service_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "title": d["title"],
            "description": d.get("description") or "",
            "cutoff_at": d["cutoff_at"],
            "delivery_from": d["delivery_from"],
            "delivery_until": d["delivery_until"],
            "min_total_quantity": d["min_total_quantity"],
            "max_total_quantity": d.get("max_total_quantity"),
            "per_household_limit": d.get("per_household_limit") or 0,
            "commission_rate": d.get("commission_rate") or Decimal("0"),
            "uncollected_days": d.get("uncollected_days") or 14,
            "items": self.items,
            "station_ids": [s.pk for s in d.get("stations") or []],
            "county_ids": [c.pk for c in d.get("counties") or []],
        }


def initial_for(campaign: Campaign) -> dict[str, Any]:
    """The form's initial values for editing a draft."""
    rows: dict[str, Any] = {}
    for i, item in enumerate(campaign.items.prefetch_related("tiers")[:ITEM_ROWS]):
        rows[f"item{i}_product"] = item.product_id
        rows[f"item{i}_base"] = item.base_price
        for t, tier in enumerate(list(item.tiers.all())[:TIER_ROWS]):
            rows[f"item{i}_tier{t}_qty"] = tier.min_quantity
            rows[f"item{i}_tier{t}_price"] = tier.unit_price
    return {
        "title": campaign.title,
        "description": campaign.description,
        "cutoff_at": timezone.localtime(campaign.cutoff_at),
        "delivery_from": campaign.delivery_from,
        "delivery_until": campaign.delivery_until,
        "min_total_quantity": campaign.min_total_quantity,
        "max_total_quantity": campaign.max_total_quantity,
        "per_household_limit": campaign.per_household_limit,
        "commission_rate": campaign.commission_rate,
        "uncollected_days": campaign.uncollected_days,
        "counties": list(campaign.counties.values_list("pk", flat=True)),
        "stations": list(campaign.stations.values_list("pk", flat=True)),
        "item_rows_data": rows,
    }
