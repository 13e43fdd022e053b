from django.urls import path

from . import (
    catalogue_views,
    credit_views,
    station_order_views,
    supplier_products,
    supplier_views,
    views,
)

app_name = "storefront"

urlpatterns = [
    path("", views.home, name="home"),
    path("households/", views.households, name="households"),
    path("households/new/", views.household_create, name="household-create"),
    path("households/<int:pk>/", views.household_detail, name="household"),
    path("households/<int:pk>/credit/", credit_views.household_credit, name="household-credit"),
    path("households/<int:pk>/credit/repay/", credit_views.record_repayment, name="household-repay"),
    path("households/<int:pk>/credit/limit/", credit_views.set_limit, name="household-credit-limit"),
    path("credit/", credit_views.station_credit, name="credit"),
    path("credit/stations/<int:pk>/", credit_views.station_credit, name="station-credit"),
    path("credit/repayments/<int:pk>/", credit_views.repayment_detail, name="credit-repayment"),
    path("credit/repayments/<int:pk>/receipt.pdf", credit_views.repayment_receipt, name="credit-receipt"),
    path("orders/", views.orders, name="orders"),
    path("orders/<str:number>/", views.order_detail, name="order"),
    path(
        "orders/<str:number>/<slug:action>/",
        station_order_views.order_action,
        name="order-action",
    ),
    path("station-orders/", station_order_views.pick_household, name="station-orders"),
    path("station-orders/<int:household_id>/", station_order_views.basket, name="station-basket"),
    path("station-orders/<int:household_id>/add/", station_order_views.basket_add, name="station-basket-add"),
    path(
        "station-orders/<int:household_id>/remove/",
        station_order_views.basket_remove,
        name="station-basket-remove",
    ),
    path(
        "station-orders/<int:household_id>/checkout/", station_order_views.checkout, name="station-checkout"
    ),
    path("catalogue/", catalogue_views.catalogue_search, name="catalogue"),
    path("catalogue/<int:pk>/", catalogue_views.product_detail, name="catalogue-product"),
    path(
        "catalogue/thumbnail/<int:image_id>/<int:size>/",
        catalogue_views.product_thumbnail,
        name="catalogue-thumbnail",
    ),
    path("supplier/", catalogue_views.supplier_portal, name="supplier-portal"),
    path("supplier/import-template.csv", catalogue_views.import_template, name="catalogue-import-template"),
    # One section of the supplier portal each (linked from the dashboard's 供应商中心 menu).
    path("supplier/signup/", supplier_views.signup, name="supplier-signup"),
    path("supplier/licences/", supplier_views.licences, name="supplier-licences"),
    path("supplier/licences/<int:pk>/renew/", supplier_views.licence_renew, name="supplier-licence-renew"),
    path("supplier/licences/<int:pk>/file/", supplier_views.licence_file, name="licence-file"),
    path("supplier/warehouses/", supplier_views.warehouses, name="supplier-warehouses"),
    path("supplier/stock/", supplier_views.stock, name="supplier-stock"),
    path("supplier/products/new/", supplier_products.product_create, name="supplier-product-create"),
    path("supplier/products/<int:pk>/", supplier_products.product_edit, name="supplier-product"),
    path("operator/suppliers/", supplier_views.review_queue, name="operator-suppliers"),
    path("operator/suppliers/<int:pk>/", supplier_views.review_detail, name="operator-supplier"),
    path("supplier/import/", catalogue_views.supplier_portal, {"section": "import"}, name="supplier-import"),
]
