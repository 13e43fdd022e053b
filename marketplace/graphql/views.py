"""GraphQL endpoint: session or bearer-token authentication.

Bearer-token requests carry no cookies, so CSRF does not apply to them; session-authenticated
requests must pass Django's CSRF check like any form post.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from graphene_django.views import GraphQLView

from marketplace.accounts.models import ApiToken


def _csrf_failure(request: HttpRequest, reason: str = ""):
    return JsonResponse({"errors": [{"message": f"CSRF check failed: {reason}"}]}, status=403)


@method_decorator(csrf_exempt, name="dispatch")
class MarketplaceGraphQLView(GraphQLView):
    def dispatch(self, request: HttpRequest, *args, **kwargs):
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            raw = auth.removeprefix("Bearer ").strip()
            user = ApiToken.authenticate(raw)
            if user is None:
                return JsonResponse({"errors": [{"message": "Invalid or expired token"}]}, status=401)
            request.user = user
            request.api_token = raw
        elif request.method == "POST" and request.user.is_authenticated:
            middleware = CsrfViewMiddleware(lambda req: None)
            rejection = middleware.process_view(request, None, (), {})
            if rejection is not None:
                return _csrf_failure(
                    request, "session requests need the csrftoken cookie and X-CSRFToken header"
                )
        return super().dispatch(request, *args, **kwargs)
