from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from marketplace.stations.models import Household, Station, Village


class HouseholdForm(forms.ModelForm):
    class Meta:
        model = Household
        fields = ["name", "phone", "village", "id_number", "farm_area_mu", "notes"]
        widgets = {
            "phone": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
            "farm_area_mu": forms.NumberInput(attrs={"step": "0.01", "min": "0.01"}),
            "id_number": forms.TextInput(attrs={"autocomplete": "off", "maxlength": "18"}),
        }

    def __init__(self, *args, station: Station, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.station = station
        self.instance.station = station  # so the model's own rules (duplicate phone) run on the form
        self.fields["village"].queryset = Village.objects.filter(township__county=station.county_id).order_by(
            "township__name", "name"
        )
        self.fields["village"].initial = station.village_id
        self.fields["id_number"].required = False
        self.fields["farm_area_mu"].label = _("耕地面积(亩)")

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["village_id"] = data.pop("village").pk
        return data
