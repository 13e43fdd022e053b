"""The supplier's single-product page (issue #12): create or edit ONE product of the supplier's own
in the storefront supplier centre — product type, title, that type's attributes (registration and
licence numbers included), barcode, and price + stock per own warehouse.

Thin: the product validator (``catalogue/validation.py``) checks the product, and the catalogue
services write it (``create_product`` / ``update_product``, ``upsert_stockrecord``; the stock
record licence rule, ``compliance.check_new_stockrecord``, applies to what they write). Another
supplier's product is a 404.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_model

from marketplace.apps.catalogue import services as catalogue
from marketplace.apps.catalogue.product_types import PRODUCT_TYPES, ProductTypeSpec
from marketplace.apps.catalogue.validation import (
    attribute_label,
    choice_label,
    stored_attributes,
    type_label,
    validate_product,
)
from marketplace.apps.partner.models import Partner, StockRecord, Warehouse
from marketplace.core import permissions
from marketplace.core.permissions import OPERATOR, PARTNER, permission_required

from .supplier_views import _partner

Product = get_model("catalogue", "Product")

#: Product fields of the page (the rest are attributes "attr_<code>" and stock rows "<field>_<warehouse>").
BASE_FIELDS = ("title", "upc", "description")


class ProductPageForm(forms.Form):
    """Raw text in: the validator coerces and decides, so its messages are the page's messages."""

    title = forms.CharField(label=_("商品名称"), required=False, max_length=255)
    upc = forms.CharField(
        label=_("商品条码"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    description = forms.CharField(
        label=_("描述"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(
        self,
        *args: Any,
        spec: ProductTypeSpec,
        warehouses: list[Warehouse],
        records: dict[int, StockRecord],
        product: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.spec, self.product, self.warehouses, self.records = spec, product, warehouses, records
        for attr in spec.attributes:
            label = attribute_label(attr) + (" *" if attr.required else "")
            field: forms.Field
            if attr.type == "boolean":
                field = forms.BooleanField(label=label, required=False)
            elif attr.choices:
                choices = [("", "—")] + [(c, choice_label(attr, c)) for c in attr.choices]
                field = forms.CharField(label=label, required=False, widget=forms.Select(choices=choices))
            elif attr.type == "date":
                field = forms.CharField(
                    label=label, required=False, widget=forms.DateInput(attrs={"type": "date"})
                )
            else:
                attrs = {"inputmode": "decimal"} if attr.type == "float" else {}
                field = forms.CharField(label=label, required=False, widget=forms.TextInput(attrs=attrs))
            self.fields[f"attr_{attr.code}"] = field
        for w in warehouses:
            record = records.get(w.pk)
            sku = forms.CharField(label=_("SKU"), required=False, max_length=128)
            if record is not None:
                sku.disabled = True  # a stock record is keyed by its SKU
            self.fields[f"sku_{w.pk}"] = sku
            self.fields[f"price_{w.pk}"] = forms.DecimalField(
                label=_("价格 (元)"),
                required=False,
                min_value=0,
                decimal_places=2,
                max_digits=12,
                widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
            )
            self.fields[f"stock_{w.pk}"] = forms.IntegerField(
                label=_("库存"),
                required=False,
                min_value=0,
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
            )

    # -- layout helpers for the template ---------------------------------------------------------

    def base_fields_bound(self) -> list[forms.BoundField]:
        return [self[name] for name in BASE_FIELDS]

    def attribute_fields(self) -> list[forms.BoundField]:
        return [self[f"attr_{attr.code}"] for attr in self.spec.attributes]

    def stock_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "warehouse": w,
                "record": self.records.get(w.pk),
                "fields": [self[f"sku_{w.pk}"], self[f"price_{w.pk}"], self[f"stock_{w.pk}"]],
            }
            for w in self.warehouses
        ]

    # -- validation ------------------------------------------------------------------------------

    def product_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "title": self.cleaned_data.get("title") or "",
            "upc": self.cleaned_data.get("upc") or "",
            "description": self.cleaned_data.get("description") or "",
            "attributes": {a.code: self.cleaned_data.get(f"attr_{a.code}") for a in self.spec.attributes},
        }
        if self.product is None:
            data["product_type"] = self.spec.slug
        return data

    def stock_data(self) -> list[dict[str, Any]]:
        """The warehouse rows the supplier filled in (an untouched empty row is skipped)."""
        rows = []
        for w in self.warehouses:
            record = self.records.get(w.pk)
            sku = (
                record.partner_sku
                if record is not None
                else (self.cleaned_data.get(f"sku_{w.pk}") or "").strip()
            )
            price = self.cleaned_data.get(f"price_{w.pk}")
            stock = self.cleaned_data.get(f"stock_{w.pk}")
            if record is None and not sku and price is None and stock is None:
                continue
            rows.append({"warehouse": w, "sku": sku, "price": price, "num_in_stock": stock})
        return rows

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            validate_product(self.product_data(), self.product)
        except ValidationError as exc:
            self.apply(exc)
        for row in self.stock_data():
            w = row["warehouse"]
            for key, name in (
                ("sku", f"sku_{w.pk}"),
                ("price", f"price_{w.pk}"),
                ("num_in_stock", f"stock_{w.pk}"),
            ):
                if row[key] in (None, "") and name not in self.errors:
                    self.add_error(name, gettext("填写该仓库时此项必填"))
        return data

    def apply(self, exc: ValidationError, warehouse: Warehouse | None = None) -> None:
        """Put a validator / service error on the named field of the page."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        stock_names = {"sku": "sku", "price": "price", "num_in_stock": "stock", "warehouse_id": "sku"}
        for key, errors in exc.error_dict.items():
            if warehouse is not None and key in stock_names:
                name: str | None = f"{stock_names[key]}_{warehouse.pk}"
            elif f"attr_{key}" in self.fields:
                name = f"attr_{key}"
            else:
                name = key if key in self.fields else None
            self.add_error(name, errors)


def _save(request: HttpRequest, partner: Partner, form: ProductPageForm) -> Any:
    """Write the product and its stock rows in one transaction: all of it or nothing."""
    with transaction.atomic():
        if form.product is None:
            product = catalogue.create_product(request.user, partner, form.product_data())
        else:
            product = catalogue.update_product(request.user, form.product, form.product_data())
        failed = False
        for row in form.stock_data():
            try:
                catalogue.upsert_stockrecord(
                    request.user,
                    partner,
                    product,
                    sku=row["sku"],
                    price=row["price"],
                    num_in_stock=row["num_in_stock"],
                    warehouse=row["warehouse"],
                )
            except ValidationError as exc:
                form.apply(exc, row["warehouse"])
                failed = True
        if failed:
            raise ValidationError(gettext("请更正标出的错误"))
    return product


def _render(
    request: HttpRequest, partner: Partner, form: ProductPageForm | None, **context: Any
) -> HttpResponse:
    return render(
        request,
        "storefront/supplier/product_form.html",
        {
            "partner": partner,
            "form": form,
            "type_name": type_label(context["spec"]) if context.get("spec") else "",
            "types": [(s.slug, type_label(s)) for s in PRODUCT_TYPES.values()],
        }
        | context,
    )


@permission_required(PARTNER, OPERATOR)
def product_create(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    slug = request.POST.get("type") or request.GET.get("type") or ""
    spec = PRODUCT_TYPES.get(slug)
    if spec is None:  # first choose the product type: its attributes make the form
        return _render(request, partner, None, spec=None, product=None)
    warehouses = list(
        permissions.warehouses_for(request.user).filter(partner=partner, is_active=True).order_by("code")
    )
    form = ProductPageForm(request.POST or None, spec=spec, warehouses=warehouses, records={})
    if request.method == "POST" and form.is_valid():
        try:
            product = _save(request, partner, form)
        except ValidationError as exc:
            if not form.errors:
                form.apply(exc)
        else:
            messages.success(request, gettext("已保存商品 %(title)s") % {"title": product.title})
            return redirect(
                f"{reverse('storefront:supplier-product', args=[product.pk])}?partner={partner.pk}"
            )
    return _render(request, partner, form, spec=spec, product=None)


@permission_required(PARTNER, OPERATOR)
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner(request)
    # Only a product this supplier owns: another supplier's product (or a platform one) is a 404.
    product = get_object_or_404(
        permissions.products_for(request.user).filter(owner=partner).select_related("product_class"), pk=pk
    )
    spec = PRODUCT_TYPES.get(product.product_class.slug)
    if spec is None:
        return redirect(f"{reverse('storefront:supplier-stock')}?partner={partner.pk}")
    warehouses = list(
        permissions.warehouses_for(request.user).filter(partner=partner, is_active=True).order_by("code")
    )
    records: dict[int, StockRecord] = {}
    for record in StockRecord.objects.filter(
        partner=partner, product=product, warehouse__in=warehouses
    ).order_by("pk"):
        records.setdefault(record.warehouse_id, record)
    initial: dict[str, Any] = {
        "title": product.title,
        "upc": product.upc or "",
        "description": product.description,
    }
    for code, value in stored_attributes(product).items():
        if isinstance(value, float):
            value = f"{value:g}"  # 18, not 18.0
        initial[f"attr_{code}"] = value.isoformat() if hasattr(value, "isoformat") else value
    for wid, record in records.items():
        initial |= {
            f"sku_{wid}": record.partner_sku,
            f"price_{wid}": record.price,
            f"stock_{wid}": record.num_in_stock,
        }
    form = ProductPageForm(
        request.POST or None,
        initial=initial,
        spec=spec,
        warehouses=warehouses,
        records=records,
        product=product,
    )
    if request.method == "POST" and form.is_valid():
        try:
            _save(request, partner, form)
        except ValidationError as exc:
            if not form.errors:
                form.apply(exc)
        else:
            messages.success(request, gettext("已保存商品 %(title)s") % {"title": product.title})
            return redirect(f"{request.path}?partner={partner.pk}")
    stock = (
        StockRecord.objects.filter(partner=partner, product=product)
        .select_related("warehouse")
        .order_by("partner_sku")
    )
    return _render(request, partner, form, spec=spec, product=product, stock=stock)
