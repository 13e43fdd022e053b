from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("households/<int:pk>/", views.household_fields, name="household"),
    path("fields/<int:pk>/", views.field_detail, name="field"),
    path("fields/<int:pk>/edit/", views.field_edit, name="field-edit"),
    path("fields/<int:pk>/recommend/", views.field_recommend, name="field-recommend"),
    path("recommendations/<int:pk>/", views.recommendation_detail, name="recommendation"),
    path("recommendations/<int:pk>/replan/", views.recommendation_replan, name="recommendation-replan"),
    path("recommendations/<int:pk>/card.pdf", views.recommendation_card, name="card"),
    path("plans/<int:pk>/order/", views.plan_order, name="plan-order"),
    path("plans/<int:pk>/status.json", views.plan_status, name="plan-status"),
    path("import/", views.soil_import, name="import"),
    path("import/template/", views.soil_import_template, name="import-template"),
    path("parameters/", views.parameter_sets, name="parameter-sets"),
    path("parameters/<str:crop>/<str:zone>/", views.parameter_set_edit, name="parameter-set"),
    path("demand/", views.demand_index, name="demand-index"),
    path("demand/<int:county_id>/", views.demand, name="demand"),
]
