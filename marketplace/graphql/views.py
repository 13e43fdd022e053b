"""GraphQL endpoint: authentication, limits and error masking at the edge.

- Authentication: session or bearer token. Bearer-token requests carry no cookies, so CSRF does not
  apply to them; session-authenticated requests must pass Django's CSRF check like any form post.
- Limits before anything runs: body size (413), lexer tokens, aliases, depth and cost
  (marketplace/graphql/limits.py), so hostile documents are refused in milliseconds.
- Introspection and "Did you mean …" suggestions are off for anonymous users unless
  ``GRAPHQL_PUBLIC_INTROSPECTION`` (on outside production).
- Time: the request has a deadline (``GRAPHQL_REQUEST_SECONDS``): resolvers stop once it has passed
  and, on PostgreSQL, ``statement_timeout`` bounds every SQL statement by the same budget.
- Errors: a domain error (permission, not found, validation) keeps its message; any other exception
  is logged with its traceback (type and frames, not its message, which may carry personal data)
  and answered with one generic error, code INTERNAL_ERROR.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from graphene.validation import DisableIntrospection
from graphene_django.views import GraphQLView
from graphql import ExecutionResult, GraphQLError, parse, specified_rules, validate

from marketplace.accounts.models import ApiToken

from .limits import limit_rules
from .middleware import EdgeMiddleware

logger = logging.getLogger("marketplace.graphql")
_SUGGESTION = re.compile(r"\s*Did you mean .*\?$")


def _csrf_failure(request: HttpRequest, reason: str = ""):
    return JsonResponse({"errors": [{"message": f"CSRF check failed: {reason}"}]}, status=403)


def _public_schema_details(request: HttpRequest) -> bool:
    return settings.GRAPHQL_PUBLIC_INTROSPECTION or request.user.is_authenticated


@method_decorator(csrf_exempt, name="dispatch")
class MarketplaceGraphQLView(GraphQLView):
    def get_middleware(self, request: HttpRequest) -> list[Any]:
        return [EdgeMiddleware(), *(self.middleware or [])]

    def dispatch(self, request: HttpRequest, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.GRAPHQL_MAX_BODY_BYTES:
            return JsonResponse(
                {
                    "errors": [
                        {
                            "message": f"Request body over {settings.GRAPHQL_MAX_BODY_BYTES} bytes",
                            "extensions": {"code": "REQUEST_TOO_LARGE"},
                        }
                    ]
                },
                status=413,
            )
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
        self.show_suggestions = _public_schema_details(request)
        self.validation_rules = None if self.show_suggestions else (*specified_rules, DisableIntrospection)
        budget = settings.GRAPHQL_REQUEST_SECONDS
        request.graphql_deadline = time.monotonic() + budget
        with _statement_timeout(budget):
            return super().dispatch(request, *args, **kwargs)

    def execute_graphql_request(self, request, data, query, variables, operation_name, show_graphiql=False):
        if query:
            try:
                document = parse(query, max_tokens=settings.GRAPHQL_MAX_TOKENS)
            except GraphQLError as exc:
                return ExecutionResult(errors=[exc])
            errors = validate(self.schema.graphql_schema, document, limit_rules(variables))
            if errors:
                return ExecutionResult(errors=errors)
        return super().execute_graphql_request(request, data, query, variables, operation_name, show_graphiql)

    def format_error(self, error: Any) -> dict[str, Any]:
        if not isinstance(error, GraphQLError):
            return {"message": str(error)}
        original = error.original_error
        formatted = error.formatted
        if original is None or isinstance(original, GraphQLError):
            if not self.show_suggestions:
                formatted["message"] = _SUGGESTION.sub("", formatted["message"])
            return formatted
        if isinstance(original, PermissionDenied):
            formatted["message"] = str(original) or gettext("无权操作")
            formatted["extensions"] = {"code": "PERMISSION_DENIED"}
        elif isinstance(original, ObjectDoesNotExist):
            formatted["message"] = gettext("对象不存在或无权访问")
            formatted["extensions"] = {"code": "NOT_FOUND"}
        elif isinstance(original, ValidationError):
            formatted["message"] = " ".join(original.messages)
            formatted["extensions"] = {"code": "INVALID"}
        else:
            logger.error(
                "Unhandled %s in GraphQL field %s\n%s",
                type(original).__name__,
                ".".join(str(p) for p in error.path or []),
                "".join(traceback.format_tb(original.__traceback__)),
            )
            formatted["message"] = gettext("服务器内部错误，请稍后重试")
            formatted["extensions"] = {"code": "INTERNAL_ERROR"}
        return formatted


class _statement_timeout:
    """``SET statement_timeout`` for the request on PostgreSQL, back to the default afterwards."""

    def __init__(self, seconds: float) -> None:
        self.ms = max(int(seconds * 1000), 1)
        self.active = connection.vendor == "postgresql"

    def __enter__(self) -> None:
        if self.active:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{self.ms}ms"])

    def __exit__(self, *exc: Any) -> None:
        if self.active and connection.connection is not None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("RESET statement_timeout")
            except Exception:  # a broken connection is closed and replaced by Django anyway
                logger.warning("could not reset statement_timeout")
