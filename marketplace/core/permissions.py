"""Who may see and change what. The one place: dashboard, GraphQL and storefront all call these.

Rules:
- Operators see everything.
- Station staff see and act for their own stations' households and orders only.
- Agronomists and county staff read stations and households of the counties they are assigned to.
- A farmer with a login sees their own household and its orders.
- Suppliers and cooperatives see only their own partner(s), products, stock and orders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy

from marketplace.accounts.models import Role
from marketplace.stations.models import Household, Station


def is_authenticated(user: Any) -> bool:
    """The one spelling of "logged in": an authenticated, active user."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


_authenticated = is_authenticated  # plugins' access modules used the private name


def is_operator(user: Any) -> bool:
    return _authenticated(user) and (user.is_superuser or user.role == Role.OPERATOR)


def has_role(user: Any, *roles: str) -> bool:
    return is_operator(user) or (_authenticated(user) and user.role in roles)


# --- Declared permissions ---------------------------------------------------------------------
#
# Role-level decisions with a name. GraphQL mutations declare them (``class Meta: permissions =
# (...)``, checked in marketplace.graphql.core.mutations.BaseMutation before the mutation body) and
# pages declare the same ones (:func:`marketplace.core.views.permission_required` /
# ``PermissionRequiredMixin``). Object-level tenancy ("which households") stays in the querysets
# below, which the mutation body and the page both start from.


@dataclass(frozen=True)
class Permission:
    name: str
    test: Callable[[Any], bool]
    message: str | Promise = gettext_lazy("无权操作")
    public: bool = False

    def allows(self, user: Any) -> bool:
        if self.public:
            return True
        return is_authenticated(user) and bool(self.test(user))

    def __str__(self) -> str:
        return self.name


REGISTRY: dict[str, Permission] = {}


def register(permission: Permission) -> Permission:
    """Name a permission so pages and mutations can refer to it (plugins: in their access.py)."""
    existing = REGISTRY.get(permission.name)
    if existing is not None and existing != permission:
        raise ValueError(f"permission {permission.name!r} is already registered")
    REGISTRY[permission.name] = permission
    return permission


def get_permission(permission: Permission | str) -> Permission:
    return permission if isinstance(permission, Permission) else REGISTRY[permission]


def allowed(user: Any, permissions: tuple[Permission | str, ...] | list[Permission | str]) -> bool:
    """True when the user holds at least one of ``permissions`` (an empty tuple allows nobody)."""
    return any(get_permission(p).allows(user) for p in permissions)


def check(user: Any, permissions: tuple[Permission | str, ...] | list[Permission | str]) -> None:
    """Raise PermissionDenied (with "please log in" for anonymous users) unless :func:`allowed`."""
    perms = [get_permission(p) for p in permissions]
    if any(p.allows(user) for p in perms):
        return
    if not is_authenticated(user):
        raise PermissionDenied(gettext("请先登录"))
    raise PermissionDenied(str(perms[0].message) if len(perms) == 1 else gettext("无权操作"))


def _is_station_manager(user: Any) -> bool:
    return user.role == Role.STATION_STAFF and user.station_memberships.filter(is_manager=True).exists()


PUBLIC = register(Permission("public", lambda user: True, public=True))
AUTHENTICATED = register(Permission("authenticated", lambda user: True, gettext_lazy("请先登录")))
OPERATOR = register(Permission("operator", is_operator, gettext_lazy("只有平台运营可以操作")))
STATION_STAFF = register(
    Permission(
        "station_staff",
        lambda user: has_role(user, Role.STATION_STAFF),
        gettext_lazy("只有站点信息员可以操作"),
    )
)
ACT_FOR_HOUSEHOLD = register(
    Permission(
        "act_for_household",
        lambda user: has_role(user, Role.STATION_STAFF, Role.FARMER),
        gettext_lazy("只有站点信息员或农户本人可以操作"),
    )
)
PARTNER = register(
    Permission(
        "partner",
        lambda user: has_role(user, Role.SUPPLIER, Role.COOPERATIVE),
        gettext_lazy("只有供应商或合作社可以操作"),
    )
)
REVIEW_PARTNERS = register(
    Permission(
        "review_partners", lambda user: can_review_partners(user), gettext_lazy("只有平台运营可以审核")
    )
)
APPROVE_CREDIT = register(
    Permission(
        "approve_credit",
        lambda user: is_operator(user) or _is_station_manager(user),
        gettext_lazy("只有站长或平台运营可以审批赊销额度"),
    )
)


# --- Stations and households ----------------------------------------------------------------


def scope_by_station(qs: QuerySet, user: Any, to_station: str = "", farmer: str | None = None) -> QuerySet:
    """Restrict ``qs`` to rows the user may read, by the station each row belongs to.

    ``to_station`` is the lookup from the model to its Station ("" for Station itself,
    "station" for Household and Order); ``farmer`` is the lookup from the model to a farmer's
    user (None: farmers see nothing). Operators see everything; station staff their stations;
    agronomists and county staff the stations of their counties.
    """
    prefix = f"{to_station}__" if to_station else ""
    if is_operator(user):
        return qs
    if not _authenticated(user):
        return qs.none()
    if user.role == Role.STATION_STAFF:
        return qs.filter(**{f"{prefix}memberships__user": user})
    if user.role in (Role.AGRONOMIST, Role.COUNTY_STAFF):
        return qs.filter(**{f"{prefix}county__assignments__user": user})
    if user.role == Role.FARMER and farmer:
        return qs.filter(**{farmer: user})
    return qs.none()


def stations_for(user: Any) -> QuerySet[Station]:
    """Stations the user may read."""
    return scope_by_station(Station.objects.all(), user, farmer="households__user")


def managed_stations(user: Any) -> QuerySet[Station]:
    """Stations the user may act for (order, take payment, register farmers)."""
    if is_operator(user):
        return Station.objects.all()
    if _authenticated(user) and user.role == Role.STATION_STAFF:
        return Station.objects.filter(memberships__user=user)
    return Station.objects.none()


#: Bumped whenever a station membership is saved or deleted in this process (signals below), so a
#: user object's memo of its stations (:func:`managed_station_ids`) is never reused across a change.
_MEMBERSHIP_GENERATION = [0]


def membership_changed(*_args: Any, **_kwargs: Any) -> None:
    _MEMBERSHIP_GENERATION[0] += 1


def managed_station_ids(user: Any) -> frozenset[int]:
    """Ids of the stations a station-staff user acts for, read once per user object (i.e. once per
    request: every request loads its user afresh) and memoised on it. Empty for other roles; for
    operators use :func:`is_operator` first (they act for every station)."""
    if not (_authenticated(user) and user.role == Role.STATION_STAFF):
        return frozenset()
    memo = getattr(user, "_managed_station_ids", None)
    if memo is not None and memo[0] == _MEMBERSHIP_GENERATION[0]:
        return memo[1]
    ids = frozenset(user.station_memberships.values_list("station_id", flat=True))
    user._managed_station_ids = (_MEMBERSHIP_GENERATION[0], ids)
    return ids


def can_manage_station(user: Any, station: Station | int) -> bool:
    station_id = station if isinstance(station, int) else station.pk
    if is_operator(user):
        return Station.objects.filter(pk=station_id).exists()
    return station_id in managed_station_ids(user)


def households_for(user: Any) -> QuerySet[Household]:
    """Households the user may read."""
    return scope_by_station(Household.objects.all(), user, "station", farmer="user")


def managed_households(user: Any) -> QuerySet[Household]:
    """Households the user may act for."""
    if is_operator(user):
        return Household.objects.all()
    if _authenticated(user) and user.role == Role.STATION_STAFF:
        return Household.objects.filter(station__memberships__user=user)
    if _authenticated(user) and user.role == Role.FARMER:
        return Household.objects.filter(user=user)
    return Household.objects.none()


def can_manage_household(user: Any, household: Household) -> bool:
    """:func:`managed_households` for one loaded household, without a query of its own (the staff
    member's stations are read once per request)."""
    if is_operator(user):
        return True
    if not _authenticated(user):
        return False
    if user.role == Role.STATION_STAFF:
        return household.station_id in managed_station_ids(user)
    if user.role == Role.FARMER:
        return household.user_id is not None and household.user_id == user.pk
    return False


def can_approve_credit(user: Any, station: Station | int) -> bool:
    """Approve a household's credit (赊销) limit at ``station``: that station's manager or an operator."""
    if is_operator(user):
        return True
    station_id = station if isinstance(station, int) else station.pk
    return (
        is_authenticated(user)
        and user.role == Role.STATION_STAFF
        and user.station_memberships.filter(station_id=station_id, is_manager=True).exists()
    )


def require(condition: bool, message: str | None = None) -> None:
    if not condition:
        raise PermissionDenied(message or gettext("无权访问"))


# --- Partners, products, orders ---------------------------------------------------------------


def partners_for(user: Any) -> QuerySet:
    from oscar.core.loading import get_model

    Partner = get_model("partner", "Partner")
    if is_operator(user):
        return Partner.objects.all()
    if _authenticated(user) and user.role in (Role.SUPPLIER, Role.COOPERATIVE):
        return Partner.objects.filter(users=user)
    return Partner.objects.none()


def can_manage_partner(user: Any, partner: Any) -> bool:
    return partners_for(user).filter(pk=partner.pk).exists()


def stockrecords_for(user: Any) -> QuerySet:
    from oscar.core.loading import get_model

    StockRecord = get_model("partner", "StockRecord")
    if is_operator(user):
        return StockRecord.objects.all()
    return StockRecord.objects.filter(partner__in=partners_for(user))


def orders_for(user: Any) -> QuerySet:
    """Orders the user may read."""
    from oscar.core.loading import get_model

    Order = get_model("order", "Order")
    Line = get_model("order", "Line")
    qs = Order.objects.all()
    if _authenticated(user) and not is_operator(user):
        if user.role in (Role.SUPPLIER, Role.COOPERATIVE):
            return qs.filter(pk__in=Line.objects.filter(partner__users=user).values("order_id"))
        if user.role == Role.FARMER:
            return qs.filter(Q(household__user=user) | Q(user=user))
        if user.role == Role.CITY_BUYER:
            return qs.filter(user=user)
    return scope_by_station(qs, user, "station")


def can_see_order_buyers(user: Any) -> bool:
    """May the user see WHO an order is for — the farmer household and its station? Suppliers and
    cooperatives see the orders that carry their lines (what to supply) but never the farmers' names
    or stations on them (they get station deliveries through consolidated purchase orders). Every path
    that shows an order obeys this: storefront pages, GraphQL, documents."""
    if is_operator(user):
        return True
    return _authenticated(user) and user.role not in (Role.SUPPLIER, Role.COOPERATIVE)


# --- Catalogue: products, warehouses, licences (supplier tenancy) ---------------------------------


def products_for(user: Any) -> QuerySet:
    """Products a supplier may manage: the ones it owns or has stock records for. Operators: all."""
    from oscar.core.loading import get_model

    Product = get_model("catalogue", "Product")
    if is_operator(user):
        return Product.objects.all()
    partners = partners_for(user)
    StockRecord = get_model("partner", "StockRecord")
    stocked = StockRecord.objects.filter(partner__in=partners).values("product_id")
    return Product.objects.filter(Q(owner__in=partners) | Q(pk__in=stocked))


def can_manage_product(user: Any, product: Any) -> bool:
    """Edit a product's title, description and attributes: its owner supplier or an operator."""
    if is_operator(user):
        return True
    return product.owner_id is not None and partners_for(user).filter(pk=product.owner_id).exists()


def warehouses_for(user: Any) -> QuerySet:
    from oscar.core.loading import get_model

    Warehouse = get_model("partner", "Warehouse")
    if is_operator(user):
        return Warehouse.objects.all()
    return Warehouse.objects.filter(partner__in=partners_for(user))


def licences_for(user: Any) -> QuerySet:
    from oscar.core.loading import get_model

    PartnerLicence = get_model("partner", "PartnerLicence")
    if is_operator(user):
        return PartnerLicence.objects.all()
    return PartnerLicence.objects.filter(partner__in=partners_for(user))


def can_review_partners(user: Any) -> bool:
    """Approve, reject or suspend suppliers and cooperatives."""
    return is_operator(user)


# --- Household credit (赊销) ------------------------------------------------------------------


def can_record_repayment(user: Any, station: Station | int) -> bool:
    """Take a household's credit repayment in cash: the station's staff or an operator."""
    return can_manage_station(user, station)


def credit_stations(user: Any) -> QuerySet[Station]:
    """Stations whose credit accounts (limits, balances, aged list) the user may read."""
    return managed_stations(user)


# --- Pages: the same declared permissions -------------------------------------------------------


def permission_required(*required: Permission | str) -> Callable:
    """View decorator taking the same permissions as a mutation's ``Meta.permissions``.

    Anonymous (or inactive) users are sent to the login page; logged-in users without any of the
    permissions get a 403 with the permission's message. No argument: :data:`AUTHENTICATED`.
    """
    import functools

    needed = tuple(required) or (AUTHENTICATED,)

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
            if not is_authenticated(request.user) and not allowed(request.user, needed):
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            check(request.user, needed)
            return view(request, *args, **kwargs)

        wrapped.permissions = tuple(get_permission(p) for p in needed)  # type: ignore[attr-defined]
        return wrapped

    return decorator


class PermissionRequiredMixin:
    """Class-based views: ``permissions = (permissions.OPERATOR,)``, checked in ``dispatch``."""

    permissions: tuple[Permission | str, ...] = (AUTHENTICATED,)

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_authenticated(request.user) and not allowed(request.user, self.permissions):
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        check(request.user, self.permissions)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
