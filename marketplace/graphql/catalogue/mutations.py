"""Supplier mutations: products and stock. Tenancy via marketplace.core.permissions; typed errors."""

from __future__ import annotations

from typing import Any

import graphene
from django.db.models import Q
from django.utils.translation import gettext
from graphene.types.generic import GenericScalar
from oscar.core.loading import get_model

from marketplace.apps.catalogue import services
from marketplace.apps.partner import services as partner_services
from marketplace.core import permissions

from ..core.mutations import BaseMutation
from .schema import product_queryset
from .types import PartnerType, ProductType, StockRecordType

Product = get_model("catalogue", "Product")


class ProductInput(graphene.InputObjectType):
    product_type = graphene.String(description="fertilizer / seed / pesticide / farm-supply / produce")
    title = graphene.String()
    description = graphene.String()
    upc = graphene.String()
    is_public = graphene.Boolean()
    attributes = GenericScalar(
        description='Typed attributes by code, e.g. {"n_pct": 15, "chloride_class": "none"}.'
    )


def _product_data(value: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in dict(value).items() if v is not None}
    if "attributes" in data:
        attrs = data["attributes"] or {}
        if not isinstance(attrs, dict):
            from django.core.exceptions import ValidationError

            raise ValidationError(
                {"attributes": ValidationError(gettext("attributes 须为对象"), code="invalid")}
            )
        data["attributes"] = dict(attrs)
    return data


class ProductCreate(BaseMutation):
    """A supplier adds a product it owns (typed attributes validated per product type)."""

    class Meta:
        permissions = (permissions.PARTNER,)

    class Arguments:
        partner_id = graphene.ID(required=True)
        input = ProductInput(required=True)

    product = graphene.Field(ProductType)

    @classmethod
    def perform(cls, info: Any, partner_id: str, input: dict[str, Any]) -> dict[str, Any]:
        user = info.context.user
        partner = permissions.partners_for(user).get(pk=partner_id)
        product = services.create_product(user, partner, _product_data(input))
        return {"product": product_queryset(public_only=False).get(pk=product.pk)}


class ProductUpdate(BaseMutation):

    class Meta:
        permissions = (permissions.PARTNER,)

    class Arguments:
        id = graphene.ID(required=True)
        input = ProductInput(required=True)

    product = graphene.Field(ProductType)

    @classmethod
    def perform(cls, info: Any, id: str, input: dict[str, Any]) -> dict[str, Any]:
        user = info.context.user
        product = permissions.products_for(user).get(pk=id)
        services.update_product(user, product, _product_data(input))
        return {"product": product_queryset(public_only=False).get(pk=product.pk)}


class StockInput(graphene.InputObjectType):
    partner_id = graphene.ID(required=True)
    product_id = graphene.ID(required=True)
    sku = graphene.String(required=True)
    price = graphene.Decimal(required=True)
    num_in_stock = graphene.Int(required=True)
    warehouse_id = graphene.ID()


class StockUpdate(BaseMutation):
    """Create or update a supplier's stock record (by partner + SKU)."""

    class Meta:
        permissions = (permissions.PARTNER,)

    class Arguments:
        input = StockInput(required=True)

    stock_record = graphene.Field(StockRecordType)
    created = graphene.Boolean()

    @classmethod
    def perform(cls, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        user = info.context.user
        partner = permissions.partners_for(user).get(pk=input["partner_id"])
        visible = Product.objects.filter(
            Q(is_public=True) | Q(pk__in=permissions.products_for(user).values("pk"))
        )
        product = visible.get(pk=input["product_id"])
        warehouse = None
        if input.get("warehouse_id"):
            warehouse = permissions.warehouses_for(user).get(pk=input["warehouse_id"])
        record, created = services.upsert_stockrecord(
            user,
            partner,
            product,
            sku=input["sku"],
            price=input["price"],
            num_in_stock=input["num_in_stock"],
            warehouse=warehouse,
        )
        return {"stock_record": record, "created": created}


class PartnerReview(BaseMutation):
    """Operator review: approve / reject / suspend a supplier (reason required to reject/suspend)."""

    class Meta:
        permissions = (permissions.REVIEW_PARTNERS,)

    class Arguments:
        partner_id = graphene.ID(required=True)
        action = graphene.String(required=True, description="approve / reject / suspend / resubmit")
        reason = graphene.String()

    partner = graphene.Field(PartnerType)

    @classmethod
    def perform(cls, info: Any, partner_id: str, action: str, reason: str = "") -> dict[str, Any]:
        user = info.context.user
        partner = permissions.partners_for(user).get(pk=partner_id)
        return {"partner": partner_services.transition(user, partner, action, reason or "")}


class CatalogueMutations(graphene.ObjectType):
    product_create = ProductCreate.Field()
    product_update = ProductUpdate.Field()
    stock_update = StockUpdate.Field()
    partner_review = PartnerReview.Field()
