"""Dispatcher forms: depots (with a map pin as latitude/longitude) and vehicles.

Tenancy is decided by ``access`` (one place): the forms only offer what the user may use, and
``services.save_depot`` / ``services.save_vehicle`` check it again before writing.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from marketplace.core import permissions

from . import access
from .models import Depot, Vehicle

TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class DepotForm(forms.ModelForm):
    class Meta:
        model = Depot
        fields = [
            "name",
            "kind",
            "partner",
            "address",
            "contact_phone",
            "latitude",
            "longitude",
            "opens_at",
            "closes_at",
            "is_active",
        ]
        widgets = {
            "opens_at": TIME,
            "closes_at": TIME,
            "latitude": forms.NumberInput(attrs={"step": "0.000001", "inputmode": "decimal"}),
            "longitude": forms.NumberInput(attrs={"step": "0.000001", "inputmode": "decimal"}),
        }

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        partners = access.dispatch_partners(user).order_by("name")
        self.fields["partner"].queryset = partners
        kinds = list(Depot.Kind.choices)
        if not permissions.is_operator(user):
            # A supplier or cooperative plans its own depots: the partner is required and its own.
            self.fields["partner"].required = True
            self.fields["partner"].empty_label = None
            kinds = [k for k in kinds if k[0] != Depot.Kind.PLATFORM]
        self.fields["kind"].choices = kinds

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens and closes and closes <= opens:
            self.add_error("closes_at", _("关门时间须晚于开门时间"))
        return data


class VehicleForm(forms.ModelForm):
    class Meta:
        model = Vehicle
        fields = [
            "name",
            "plate",
            "home_depot",
            "capacity_kg",
            "fixed_cost",
            "cost_per_km",
            "shift_start",
            "shift_end",
            "max_route_minutes",
            "max_reloads",
            "driver_name",
            "driver_phone",
            "is_active",
        ]
        widgets = {"shift_start": TIME, "shift_end": TIME}

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["home_depot"].queryset = access.depots_for(user).order_by("name")
        self.fields["capacity_kg"].min_value = 1
        self.fields["capacity_kg"].widget.attrs["min"] = 1

    def clean_capacity_kg(self) -> int:
        value = self.cleaned_data["capacity_kg"]
        if value is not None and value <= 0:
            raise forms.ValidationError(_("载重必须大于 0"))
        return value

    def clean_driver_phone(self) -> str:
        phone = self.cleaned_data.get("driver_phone", "").strip()
        if phone and not (phone.isdigit() and len(phone) == 11 and phone.startswith("1")):
            raise forms.ValidationError(_("请输入 11 位手机号"))
        return phone

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("shift_start"), data.get("shift_end")
        if start and end and end <= start:
            self.add_error("shift_end", _("班次结束须晚于开始"))
        for field in ("fixed_cost", "cost_per_km"):
            value = data.get(field)
            if value is not None and value < 0:
                self.add_error(field, _("成本不能为负数"))
        return data
