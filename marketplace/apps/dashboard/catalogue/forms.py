"""Oscar's dashboard product form, forked (``get_class('dashboard.catalogue.forms', 'ProductForm')``
resolves here) only so that it runs the product validator: the same rules and the same field
messages as the storefront supplier page, the import and GraphQL
(``marketplace/apps/catalogue/validation.py``). Every other dashboard catalogue form is Oscar's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from oscar.apps.dashboard.catalogue import forms as oscar_forms
from oscar.core.loading import get_model

from marketplace.apps.catalogue.product_types import PRODUCT_TYPES
from marketplace.apps.catalogue.validation import attribute_label, choice_label, validate_product

Product = get_model("catalogue", "Product")


class ProductForm(oscar_forms.ProductForm):
    def add_attribute_fields(self, product_class: Any, is_parent: bool = False) -> None:
        super().add_attribute_fields(product_class, is_parent)
        spec = PRODUCT_TYPES.get(getattr(product_class, "slug", ""))
        for attr in spec.attributes if spec else ():
            name = f"attr_{attr.code}"
            if name not in self.fields:
                continue
            self.fields[name].label = attribute_label(attr)  # the stored name is Chinese
            if attr.type == "boolean":
                continue
            # Raw text in, the validator coerces and decides (so "required", "not a number" and
            # every other message is the validator's own, as on the other paths). A closed list is
            # a select, so "无" cannot be typed for a chloride class.
            old = self.fields[name]
            if attr.choices:
                widget: forms.Widget = forms.Select(
                    choices=[("", "---------")] + [(c, choice_label(attr, c)) for c in attr.choices]
                )
            elif attr.type == "date":
                widget = forms.DateInput(attrs={"type": "date"})
            else:
                widget = forms.TextInput(attrs={"inputmode": "decimal"} if attr.type == "float" else {})
            self.fields[name] = forms.CharField(label=old.label, required=False, widget=widget)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        product_class = self.instance.product_class
        spec = PRODUCT_TYPES.get(getattr(product_class, "slug", "") or "")
        if spec is None or self.instance.structure != Product.STANDALONE:
            return data  # a product class of the operators' own, or a parent / child product
        attributes = {
            attr.code: data.get(f"attr_{attr.code}")
            for attr in spec.attributes
            if f"attr_{attr.code}" in self.fields
        }
        payload = {"product_type": spec.slug, "title": data.get("title") or "", "attributes": attributes}
        try:
            cleaned = validate_product(payload)
        except ValidationError as exc:
            for key, errors in exc.error_dict.items():
                if f"attr_{key}" in self.fields:
                    self.add_error(f"attr_{key}", errors)
                else:
                    self.add_error(key if key in self.fields else None, errors)
            return data
        for code in attributes:  # typed values for Oscar's own attribute handling (_post_clean)
            data[f"attr_{code}"] = cleaned["attributes"].get(code)
        return data
