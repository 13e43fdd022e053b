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
        self.fields["village"].label = _("所在村")

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["village_id"] = data.pop("village").pk
        return data


# --- Supplier sign-up, warehouses, licences, stock; operator review -------------------------------

from django.core.exceptions import ValidationError  # noqa: E402

from marketplace.apps.partner.models import LicenceKind, PartnerKind  # noqa: E402
from marketplace.apps.partner.services import REGISTRATION_FIELDS  # noqa: E402
from marketplace.core.uploads import DOCUMENT, UploadValidator  # noqa: E402


def apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: on the named field when the form has it."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def scan_field(label: str, required: bool = False) -> forms.FileField:
    """A licence scan: PDF, JPG or PNG by content, within UPLOAD_MAX_DOCUMENT_BYTES (core check)."""
    return forms.FileField(label=label, required=required, validators=[UploadValidator(DOCUMENT)])


class LicenceForm(forms.Form):
    kind = forms.ChoiceField(label=_("证照类型"), choices=LicenceKind.choices)
    number = forms.CharField(label=_("证号"), max_length=64)
    valid_from = forms.DateField(label=_("有效期起"), widget=forms.DateInput(attrs={"type": "date"}))
    valid_until = forms.DateField(label=_("有效期至"), widget=forms.DateInput(attrs={"type": "date"}))
    restricted_scope = forms.BooleanField(label=_("含限制使用农药经营范围"), required=False)
    product = forms.ModelChoiceField(
        label=_("产品"), queryset=None, required=False, help_text=_("肥料登记证对应的产品")
    )
    file = scan_field(_("证照扫描件"))

    def __init__(self, *args, products=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = products


class SignUpForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=PartnerKind.choices, initial=PartnerKind.SUPPLIER)
    name = forms.CharField(label=_("企业名称"), max_length=128)
    credit_code = forms.CharField(label=_("统一社会信用代码"), max_length=18)
    legal_representative = forms.CharField(label=_("法定代表人"), max_length=64)
    contact_name = forms.CharField(label=_("联系人"), max_length=64)
    contact_mobile = forms.CharField(
        label=_("联系人手机"), max_length=11, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    contact_phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    bank_name = forms.CharField(label=_("开户银行"), max_length=128)
    bank_account_name = forms.CharField(label=_("账户名称"), max_length=128)
    bank_account_number = forms.CharField(
        label=_("银行账号"), max_length=32, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    username = forms.CharField(label=_("登录用户名"), max_length=150)
    mobile = forms.CharField(
        label=_("登录手机号"), max_length=11, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    password = forms.CharField(label=_("密码"), widget=forms.PasswordInput(render_value=False))
    licence_kind = forms.ChoiceField(
        label=_("证照类型"), choices=[("", "—"), *LicenceKind.choices], required=False
    )
    licence_number = forms.CharField(label=_("证号"), max_length=64, required=False)
    licence_valid_from = forms.DateField(
        label=_("有效期起"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    licence_valid_until = forms.DateField(
        label=_("有效期至"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    licence_file = scan_field(_("证照扫描件"))
    business_licence = scan_field(_("营业执照扫描件"), required=True)

    REGISTRATION = REGISTRATION_FIELDS

    def clean(self):
        data = super().clean()
        if data.get("licence_kind"):
            for name in ("licence_number", "licence_valid_from", "licence_valid_until"):
                if not data.get(name):
                    self.add_error(name, _("填写证照时此项必填"))
        return data

    def registration(self) -> dict:
        return {k: self.cleaned_data.get(k) or "" for k in self.REGISTRATION}


class WarehouseForm(forms.Form):
    code = forms.CharField(label=_("仓库编号"), max_length=32)
    name = forms.CharField(label=_("仓库名称"), max_length=128)
    address = forms.CharField(label=_("地址"), max_length=255, required=False)
    latitude = forms.DecimalField(
        label=_("纬度"),
        max_digits=9,
        decimal_places=6,
        min_value=-90,
        max_value=90,
        widget=forms.NumberInput(attrs={"step": "0.000001", "data-lat": ""}),
    )
    longitude = forms.DecimalField(
        label=_("经度"),
        max_digits=9,
        decimal_places=6,
        min_value=-180,
        max_value=180,
        widget=forms.NumberInput(attrs={"step": "0.000001", "data-lon": ""}),
    )
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)


class RenewLicenceForm(forms.Form):
    valid_from = forms.DateField(
        label=_("有效期起"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    valid_until = forms.DateField(label=_("有效期至"), widget=forms.DateInput(attrs={"type": "date"}))
    file = scan_field(_("证照扫描件"))


class ReviewForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("approve", _("通过")), ("reject", _("驳回")), ("suspend", _("暂停"))]
    )
    reason = forms.CharField(label=_("原因"), max_length=255, required=False)
