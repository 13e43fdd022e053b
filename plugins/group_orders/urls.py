from django.urls import path

from . import manage_views, views

urlpatterns = [
    path("", views.campaigns, name="campaigns"),
    path("c/<int:pk>/", views.campaign_detail, name="campaign"),
    path("c/<int:pk>/progress.json", views.campaign_progress, name="campaign-progress"),
    path("c/<int:pk>/pledge/", views.pledge_create, name="pledge-create"),
    path("c/<int:pk>/station/<int:station_id>/", views.station_pledges, name="station-pledges"),
    path("c/<int:pk>/station/<int:station_id>/picklist.pdf", views.pick_list_pdf, name="pick-list"),
    path("pledge/<int:pk>/cancel/", views.pledge_cancel, name="pledge-cancel"),
    path("pledge/<int:pk>/take-cash/", views.pledge_take_cash, name="pledge-take-cash"),
    path("pay/<str:key>/", views.pledge_payment, name="pledge-payment"),
    path("pickup/", views.pickup_verify, name="pickup-verify"),
    path("pickup/<int:pk>/", views.pickup_detail, name="pickup"),
    path("pickup/<int:pk>/receipt.pdf", views.receipt_pdf, name="receipt"),
    path("delivery/<int:pk>/receive/", views.delivery_receive, name="delivery-receive"),
    path("po/<int:pk>.pdf", views.purchase_order_pdf, name="purchase-order"),
    path("cash/", views.cash, name="cash"),
    path("commission/", views.commission, name="commission"),
    # Supplier centre
    path("supplier/", manage_views.supplier_home, name="supplier"),
    path("supplier/new/", manage_views.campaign_new, name="campaign-new"),
    path("supplier/c/<int:pk>/edit/", manage_views.campaign_edit, name="campaign-edit"),
    path("supplier/c/<int:pk>/", manage_views.campaign_preview, name="campaign-preview"),
    path("supplier/c/<int:pk>/submit/", manage_views.campaign_submit, name="campaign-submit"),
    path("supplier/orders/", manage_views.supplier_orders, name="supplier-orders"),
    path("supplier/po/<int:pk>/", manage_views.supplier_po, name="supplier-po"),
    path("supplier/po/<int:pk>/ship-all/", manage_views.po_ship_all, name="po-ship-all"),
    path("supplier/delivery/<int:pk>/ship/", manage_views.delivery_ship, name="delivery-ship"),
    path("supplier/sales/", manage_views.supplier_sales, name="supplier-sales"),
    # Operators
    path("review/", manage_views.review_queue, name="review"),
    path("review/c/<int:pk>/", manage_views.campaign_review, name="campaign-review"),
    path("c/<int:pk>/close/", manage_views.campaign_close, name="campaign-close"),
    path("payouts/", manage_views.payouts, name="payouts"),
    path("overview/", manage_views.overview, name="overview"),
]
