"""Delivery planning records: depots, vehicles, plans, their stops, routes and visits.

Times of day inside a plan are whole seconds since midnight of ``DeliveryPlan.date`` (like the
routing core), so a route running past midnight stays representable; ``*_at`` properties turn
them into aware datetimes.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from marketplace.core.jobs import JobFields

from .routing.problem import fmt_hm


def _coord(label: str, limit: int) -> models.DecimalField:
    return models.DecimalField(
        label,
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-limit), MaxValueValidator(limit)],
    )


class Depot(models.Model):
    """Where trucks are based and/or goods are loaded: a supplier warehouse or a cooperative
    collection point.  ``external_ref`` ties it to the origin of a DeliveryRequest
    (``"warehouse:12"``, ``"collection_point:3"``)."""

    class Kind(models.TextChoices):
        WAREHOUSE = "warehouse", _("供应商仓库")
        COLLECTION_POINT = "collection_point", _("合作社集货点")
        PLATFORM = "platform", _("平台配送中心")

    name = models.CharField(_("名称"), max_length=128)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices, default=Kind.WAREHOUSE)
    partner = models.ForeignKey(
        "partner.Partner",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="routing_depots",
        verbose_name=_("所属供应商/合作社"),
    )
    warehouse = models.OneToOneField(
        "partner.Warehouse",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="routing_depot",
        verbose_name=_("关联仓库"),
    )
    external_ref = models.CharField(_("外部标识"), max_length=64, unique=True, null=True, blank=True)
    address = models.CharField(_("地址"), max_length=255, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    latitude = _coord(_("纬度"), 90)
    longitude = _coord(_("经度"), 180)
    opens_at = models.TimeField(_("开门时间"), default=time(7, 0))
    closes_at = models.TimeField(_("关门时间"), default=time(18, 0))
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("配送仓库/集货点")
        verbose_name_plural = _("配送仓库/集货点")
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(closes_at__gt=models.F("opens_at")), name="depot_hours")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def opening_hours(self) -> str:
        return f"{self.opens_at:%H:%M}–{self.closes_at:%H:%M}"


class Vehicle(models.Model):
    """One truck.  Each truck drives at most one route per plan, from and back to its home depot;
    with ``max_reloads`` > 0 that route may return to the depot to reload (several trips a shift)."""

    name = models.CharField(_("车辆名称"), max_length=64)
    plate = models.CharField(_("车牌号"), max_length=16, blank=True)
    home_depot = models.ForeignKey(
        Depot, on_delete=models.PROTECT, related_name="vehicles", verbose_name=_("所属仓库")
    )
    capacity_kg = models.PositiveIntegerField(_("载重(kg)"))
    fixed_cost = models.DecimalField(_("出车固定成本(元)"), max_digits=9, decimal_places=2, default=0)
    cost_per_km = models.DecimalField(_("每公里成本(元)"), max_digits=7, decimal_places=2, default=2)
    shift_start = models.TimeField(_("班次开始"), default=time(6, 30))
    shift_end = models.TimeField(_("班次结束"), default=time(18, 30))
    max_route_minutes = models.PositiveIntegerField(_("最长线路时长(分钟)"), null=True, blank=True)
    #: Multi-trip: how many times the truck may go back to its home depot to reload within its shift.
    max_reloads = models.PositiveSmallIntegerField(
        _("可回仓装货次数"),
        default=0,
        validators=[MaxValueValidator(10)],
        help_text=_("0 = 每天只跑一趟；大于 0 时车辆可在班次内回仓库重新装货再出发。"),
    )
    driver_name = models.CharField(_("司机"), max_length=64, blank=True)
    driver_phone = models.CharField(_("司机电话"), max_length=11, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("车辆")
        verbose_name_plural = _("车辆")
        ordering = ["home_depot_id", "name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(shift_end__gt=models.F("shift_start")), name="vehicle_shift_ordered"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.plate}".strip()


class DeliveryPlan(JobFields):
    """A day's delivery plan; solved in the background (``JobFields``: ``job_status`` queued →
    running → done/failed, polled by the plan page; ``Job`` is the job state)."""

    job_in_thread_setting = "ROUTING_SOLVE_IN_THREAD"
    job_heartbeat_setting = "ROUTING_HEARTBEAT_SECONDS"
    job_stale_setting = "ROUTING_HEARTBEAT_STALE_SECONDS"
    job_thread_prefix = "route-solve"

    class Status(models.TextChoices):
        SOLVING = "solving", _("求解中")
        DRAFT = "draft", _("草稿")
        INFEASIBLE = "infeasible", _("无法排线")
        FAILED = "failed", _("求解失败")
        PUBLISHED = "published", _("已发布")

    name = models.CharField(_("名称"), max_length=128, blank=True)
    date = models.DateField(_("配送日期"))
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.SOLVING)
    #: Set when a supplier plans its own warehouses: its users may then see and dispatch the plan.
    partner = models.ForeignKey(
        "partner.Partner",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="delivery_plans",
        verbose_name=_("供应商"),
    )
    vehicles = models.ManyToManyField(Vehicle, related_name="plans", verbose_name=_("可用车辆"))
    time_limit_s = models.FloatField(_("求解时限(秒)"), default=10.0)
    seed = models.IntegerField(default=1)
    cost = models.DecimalField(_("总成本(元)"), max_digits=12, decimal_places=2, null=True, blank=True)
    distance_m = models.PositiveIntegerField(_("总里程(米)"), null=True, blank=True)
    duration_s = models.PositiveIntegerField(_("总时长(秒)"), null=True, blank=True)
    matrix_provider = models.CharField(max_length=255, blank=True)
    #: Why the plan cannot be made: [{"stop": pk|None, "code": ..., "message": ..., "detail": ...}]
    problems = models.JSONField(_("无法排线原因"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("配送计划")
        verbose_name_plural = _("配送计划")
        ordering = ["-date", "-pk"]

    def __str__(self) -> str:
        return self.name or gettext("%(date)s 配送计划 #%(pk)s") % {
            "date": f"{self.date:%Y-%m-%d}",
            "pk": self.pk,
        }

    @property
    def is_editable(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.INFEASIBLE, self.Status.FAILED)

    @property
    def is_solving(self) -> bool:
        return self.job_active

    @property
    def job_budget_s(self) -> float:
        return self.time_limit_s

    def at(self, seconds: int | None) -> datetime | None:
        if seconds is None:
            return None
        midnight = timezone.make_aware(datetime.combine(self.date, time()))
        return midnight + timedelta(seconds=seconds)


class PlanStop(models.Model):
    """One load to carry: goods from a depot to a station (delivery) or to a buyer (shipment).

    ``kind=delivery``: loaded at the vehicle's home depot (the goods' depot), dropped at the stop.
    ``kind=shipment``: a pickup-and-delivery pair — picked up at ``depot`` by any truck passing by,
    dropped at the destination later on the same route.
    """

    class Kind(models.TextChoices):
        DELIVERY = "delivery", _("仓库配送")
        SHIPMENT = "shipment", _("取送货")

    plan = models.ForeignKey(DeliveryPlan, on_delete=models.CASCADE, related_name="stops")
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices, default=Kind.DELIVERY)
    ref = models.CharField(_("来源标识"), max_length=128)
    source = models.CharField(_("来源"), max_length=64, blank=True)
    depot = models.ForeignKey(Depot, on_delete=models.PROTECT, related_name="+", verbose_name=_("发货地"))
    station = models.ForeignKey(
        "stations.Station", on_delete=models.PROTECT, null=True, blank=True, related_name="delivery_stops"
    )
    name = models.CharField(_("目的地"), max_length=128)
    latitude = _coord(_("纬度"), 90)
    longitude = _coord(_("经度"), 180)
    weight_kg = models.PositiveIntegerField(_("重量(kg)"))
    window_start_s = models.PositiveIntegerField(_("时间窗开始"), default=0)
    window_end_s = models.PositiveIntegerField(_("时间窗结束"), default=24 * 3600)
    service_minutes = models.PositiveIntegerField(_("装卸时间(分钟)"), default=15)
    contact = models.CharField(_("联系人/电话"), max_length=128, blank=True)
    address = models.CharField(_("地址"), max_length=255, blank=True)
    lines = models.JSONField(_("货物明细"), default=list, blank=True)  # [[description, quantity], ...]
    locked_vehicle = models.ForeignKey(
        Vehicle,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("锁定车辆"),
    )
    # Result of the last successful solve (denormalised from the visits).
    route = models.ForeignKey(
        "PlanRoute", on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_stops"
    )
    eta_s = models.PositiveIntegerField(_("预计到达"), null=True, blank=True)

    class Meta:
        verbose_name = _("配送站点")
        verbose_name_plural = _("配送站点")
        ordering = ["plan_id", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "ref"], name="uniq_plan_stop_ref"),
            models.CheckConstraint(
                condition=models.Q(window_end_s__gte=models.F("window_start_s")), name="stop_window_ordered"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def window(self) -> str:
        return f"{fmt_hm(self.window_start_s)}–{fmt_hm(self.window_end_s)}"

    @property
    def eta(self) -> str:
        return fmt_hm(self.eta_s) if self.eta_s is not None else ""

    @property
    def eta_at(self) -> datetime | None:
        return self.plan.at(self.eta_s)


class PlanRoute(models.Model):
    plan = models.ForeignKey(DeliveryPlan, on_delete=models.CASCADE, related_name="routes")
    number = models.PositiveIntegerField(_("线路号"))
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="routes")
    depot = models.ForeignKey(Depot, on_delete=models.PROTECT, related_name="+")
    start_s = models.PositiveIntegerField(_("出发"))
    end_s = models.PositiveIntegerField(_("返回"))
    start_load_kg = models.PositiveIntegerField(_("出发载重(kg)"))
    distance_m = models.PositiveIntegerField(_("里程(米)"))
    duration_s = models.PositiveIntegerField(_("时长(秒)"))
    cost = models.DecimalField(_("成本(元)"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("配送线路")
        verbose_name_plural = _("配送线路")
        ordering = ["plan_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="uniq_route_number"),
            models.UniqueConstraint(fields=["plan", "vehicle"], name="uniq_route_vehicle"),
        ]

    def __str__(self) -> str:
        return f"线路{self.number} · {self.vehicle}"

    @property
    def start(self) -> str:
        return fmt_hm(self.start_s)

    @property
    def end(self) -> str:
        return fmt_hm(self.end_s)


class PlanVisit(models.Model):
    class Kind(models.TextChoices):
        DELIVERY = "delivery", _("卸货")
        PICKUP = "pickup", _("装货")
        DROPOFF = "dropoff", _("送达")
        RELOAD = "reload", _("回仓装货")

    route = models.ForeignKey(PlanRoute, on_delete=models.CASCADE, related_name="visits")
    #: None for a reload visit (back at the route's depot to load the next trip).
    stop = models.ForeignKey(PlanStop, on_delete=models.CASCADE, related_name="visits", null=True, blank=True)
    trip = models.PositiveSmallIntegerField(_("趟次"), default=1)
    sequence = models.PositiveIntegerField(_("顺序"))
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount_kg = models.PositiveIntegerField(_("重量(kg)"))
    arrival_s = models.PositiveIntegerField(_("到达"))
    start_s = models.PositiveIntegerField(_("开始服务"))
    departure_s = models.PositiveIntegerField(_("离开"))
    load_after_kg = models.PositiveIntegerField(_("服务后载重(kg)"))

    class Meta:
        ordering = ["route_id", "sequence"]
        constraints = [models.UniqueConstraint(fields=["route", "sequence"], name="uniq_visit_sequence")]

    def __str__(self) -> str:
        return f"{self.route} #{self.sequence} {self.place}"

    @property
    def arrival(self) -> str:
        return fmt_hm(self.arrival_s)

    @property
    def start(self) -> str:
        return fmt_hm(self.start_s)

    @property
    def departure(self) -> str:
        return fmt_hm(self.departure_s)

    @property
    def place(self) -> str:
        if self.kind == self.Kind.RELOAD:
            return self.route.depot.name
        return self.stop.depot.name if self.kind == self.Kind.PICKUP else self.stop.name
