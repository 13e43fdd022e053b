from django.urls import path

from . import views

urlpatterns = [
    path("", views.plans, name="plans"),
    path("new/", views.plan_create, name="plan-create"),
    path("plan/<int:pk>/", views.plan_detail, name="plan"),
    path("plan/<int:pk>/status.json", views.plan_status, name="plan-status"),
    path("plan/<int:pk>/map.svg", views.plan_map, name="plan-map"),
    path("plan/<int:pk>/reoptimise/", views.plan_reoptimise, name="plan-reoptimise"),
    path("plan/<int:pk>/publish/", views.plan_publish, name="plan-publish"),
    path("plan/<int:pk>/stop/<int:stop_id>/lock/", views.stop_lock, name="stop-lock"),
    path("plan/<int:pk>/stop/<int:stop_id>/move/", views.stop_move, name="stop-move"),
    path("plan/<int:pk>/route/<int:route_id>/sheet.pdf", views.route_sheet, name="route-sheet"),
    path("fleet/", views.fleet, name="fleet"),
    path("fleet/depot/new/", views.depot_edit, name="depot-new"),
    path("fleet/depot/<int:pk>/", views.depot_edit, name="depot-edit"),
    path("fleet/vehicle/new/", views.vehicle_edit, name="vehicle-new"),
    path("fleet/vehicle/<int:pk>/", views.vehicle_edit, name="vehicle-edit"),
    path("deliveries/", views.station_deliveries, name="station-deliveries"),
]
