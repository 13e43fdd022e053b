from django.urls import path

from . import views

urlpatterns = [
    path("", views.campaigns, name="campaigns"),
    path("c/<int:pk>/", views.campaign_detail, name="campaign"),
    path("c/<int:pk>/progress.json", views.campaign_progress, name="campaign-progress"),
    path("c/<int:pk>/pledge/", views.pledge_create, name="pledge-create"),
    path("c/<int:pk>/station/<int:station_id>/", views.station_pledges, name="station-pledges"),
    path("c/<int:pk>/station/<int:station_id>/picklist.pdf", views.pick_list_pdf, name="pick-list"),
    path("pledge/<int:pk>/cancel/", views.pledge_cancel, name="pledge-cancel"),
    path("pay/<str:key>/", views.pledge_payment, name="pledge-payment"),
    path("pickup/", views.pickup_verify, name="pickup-verify"),
    path("pickup/<int:pk>/", views.pickup_detail, name="pickup"),
    path("pickup/<int:pk>/receipt.pdf", views.receipt_pdf, name="receipt"),
    path("delivery/<int:pk>/receive/", views.delivery_receive, name="delivery-receive"),
    path("po/<int:pk>.pdf", views.purchase_order_pdf, name="purchase-order"),
    path("cash/", views.cash, name="cash"),
    path("commission/", views.commission, name="commission"),
]
