"""Stripe webhook: signature-verified (STRIPE_WEBHOOK_SECRET) and idempotent (processed event ids)."""

from __future__ import annotations

import logging

import stripe
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import gateway, services

logger = logging.getLogger("marketplace.payments")


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    signature = request.headers.get("Stripe-Signature", "")
    try:
        event = gateway.construct_event(request.body, signature)
    except (ValueError, stripe.SignatureVerificationError):
        return JsonResponse({"error": "invalid signature"}, status=400)
    processed = services.handle_stripe_event(event)
    return JsonResponse({"received": True, "duplicate": not processed})
