from typing import Any

from django.contrib import admin
from oscar.apps.catalogue.admin import *  # noqa: F403
from oscar.apps.catalogue.admin import AttributeInline, ProductAdmin, ProductAttributeValueAdmin
from oscar.core.loading import get_model

Product = get_model("catalogue", "Product")
ProductAttributeValue = get_model("catalogue", "ProductAttributeValue")

# Django's admin is not a path that runs the product validator (catalogue/validation.py): a product's
# title and typed attributes are read-only here; they are edited in Oscar's dashboard, the supplier
# pages, the import or GraphQL, which all run it.


class ReadOnlyAttributeInline(AttributeInline):
    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class ValidatedProductAdmin(ProductAdmin):
    inlines = [ReadOnlyAttributeInline, *[i for i in ProductAdmin.inlines if i is not AttributeInline]]
    readonly_fields = ("title",)
    prepopulated_fields: dict[str, Any] = {}


class ReadOnlyProductAttributeValueAdmin(ProductAttributeValueAdmin):
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


admin.site.unregister(Product)
admin.site.register(Product, ValidatedProductAdmin)
admin.site.unregister(ProductAttributeValue)
admin.site.register(ProductAttributeValue, ReadOnlyProductAttributeValueAdmin)
