from django.urls import path

from . import views

urlpatterns = [
    path("", views.market, name="market"),
    path("signup/", views.signup, name="signup"),
    path("lot/<int:pk>/", views.lot_detail, name="lot"),
    path("round/<int:pk>/", views.round_detail, name="round"),
    path("basket/", views.basket, name="basket"),
    path("checkout/<int:round_id>/", views.checkout, name="checkout"),
    path("pay/<str:key>/", views.pay, name="pay"),
    path("orders/", views.my_orders, name="my-orders"),
    path("orders/<int:pk>/", views.order_detail, name="order"),
    path("orders/<int:pk>/cancel/", views.order_cancel, name="order-cancel"),
    path("orders/<int:pk>/receipt.pdf", views.order_receipt, name="order-receipt"),
    path("standing/", views.standing_orders, name="standing"),
    path("trace/", views.trace_code, name="trace"),
    # GS1 Digital Link: /01/<GTIN-14>/10/<batch/lot>
    path("01/<str:gtin>/10/<str:lot>", views.digital_link, name="digital-link"),
    path("coop/", views.coop_home, name="coop"),
    path("coop/lots/new/", views.lot_create, name="coop-lot-create"),
    path("coop/lots/import/", views.lot_import, name="coop-lot-import"),
    path("coop/lots/<int:pk>/", views.coop_lot, name="coop-lot"),
    path(
        "coop/lots/<int:pk>/certificates/<int:cert_id>.pdf",
        views.coop_lot_certificate,
        name="coop-lot-certificate",
    ),
    path("coop/lots/<int:pk>/epcis.jsonld", views.coop_lot_epcis, name="coop-lot-epcis"),
    path("coop/rounds/new/", views.round_create, name="coop-round-create"),
    path("coop/rounds/<int:pk>/", views.coop_round, name="coop-round"),
    path("coop/rounds/<int:pk>/packing.pdf", views.packing_pdf, name="coop-packing"),
    path("coop/rounds/<int:pk>/labels.pdf", views.labels_pdf, name="coop-labels"),
    path("coop/statement/", views.statement, name="coop-statement"),
    path("coop/members/", views.coop_members, name="coop-members"),
    path("station/members/", views.station_members, name="station-members"),
    path("operator/payouts/", views.operator_payouts, name="operator-payouts"),
    path("operator/refunds/", views.operator_refunds, name="operator-refunds"),
    path("operator/refunds/<int:pk>/", views.operator_refund, name="operator-refund"),
]
