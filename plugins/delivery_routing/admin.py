from django.contrib import admin

from .models import DeliveryPlan, Depot, Vehicle


@admin.register(Depot)
class DepotAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "partner", "opens_at", "closes_at", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "external_ref")


@admin.register(Vehicle)
class VehicleAdmin(admin.ModelAdmin):
    list_display = ("name", "plate", "home_depot", "capacity_kg", "shift_start", "shift_end", "is_active")
    list_filter = ("home_depot", "is_active")


@admin.register(DeliveryPlan)
class DeliveryPlanAdmin(admin.ModelAdmin):
    list_display = ("__str__", "date", "status", "partner", "cost")
    list_filter = ("status",)
    readonly_fields = ("problems",)
