"""GraphQL endpoint: authentication, limits and error masking at the edge.

- Authentication: session or bearer token. Bearer-token requests carry no cookies, so CSRF does not
  apply to them; session-authenticated requests must pass Django's CSRF check like any form post.
- Limits before anything runs: body size (413), lexer tokens, aliases, depth and cost
  (marketplace/graphql/limits.py), so hostile documents are refused in milliseconds.
- Each distinct query text is parsed and validated once per worker: the parsed document, the limits'
  result and the standard validation's result are kept in a bounded LRU (:class:`DocumentCache`)
  keyed by the text, the limit settings and the rule set. A document whose cost depends on its
  variables (``first: $n``) has its limits checked again on every request with that request's
  variables; everything else a request does (bounds middleware, deadline) runs per request as before.
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
import threading
import time
import traceback
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseNotAllowed, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from graphene.validation import DisableIntrospection
from graphene_django.constants import MUTATION_ERRORS_FLAG
from graphene_django.settings import graphene_settings
from graphene_django.views import GraphQLView, HttpError
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
    validate_schema,
)
from graphql.language.ast import ArgumentNode, VariableNode
from graphql.language.visitor import Visitor, visit

from marketplace.accounts.models import ApiToken

from .limits import limit_rules, limits_in_force
from .middleware import EdgeMiddleware

logger = logging.getLogger("marketplace.graphql")
_SUGGESTION = re.compile(r"\s*Did you mean .*\?$")


def _csrf_failure(request: HttpRequest, reason: str = ""):
    return JsonResponse({"errors": [{"message": f"CSRF check failed: {reason}"}]}, status=403)


def _public_schema_details(request: HttpRequest) -> bool:
    return settings.GRAPHQL_PUBLIC_INTROSPECTION or request.user.is_authenticated


class _PageSizeVariables(Visitor):
    """Finds ``first: $variable`` arguments: the only way a request's variables change the cost."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> None:
        if node.name.value == "first" and isinstance(node.value, VariableNode):
            self.found = True


@dataclass
class CheckedDocument:
    """What parsing and validating one query text gave. ``limit_errors`` is None when the document's
    cost depends on the request's variables (checked per request); ``errors`` (the standard rules)
    is computed once the limits have passed, never before (hostile documents skip the quadratic
    rules), and then kept."""

    document: DocumentNode | None
    parse_errors: list[GraphQLError] = field(default_factory=list)
    limit_errors: list[GraphQLError] | None = None
    errors: list[GraphQLError] | None = None


class DocumentCache:
    """Bounded, thread-safe LRU of :class:`CheckedDocument` by (query text, limits, rule set).

    Bounded both in entries and in total query characters (a parsed document is a few times its
    text), so distinct large documents cannot grow a worker's memory without limit."""

    def __init__(self, max_entries: int, max_chars: int) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self.chars = 0
        self._entries: OrderedDict[tuple[Any, ...], CheckedDocument] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple[Any, ...]) -> CheckedDocument | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: tuple[Any, ...], entry: CheckedDocument) -> None:
        size = len(key[0])
        if size > self.max_chars:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = entry
            self.chars += size
            while len(self._entries) > self.max_entries or self.chars > self.max_chars:
                old, _ = self._entries.popitem(last=False)
                self.chars -= len(old[0])

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.chars = 0


#: Per worker: 500 distinct documents, at most 2 million query characters in all.
DOCUMENTS = DocumentCache(max_entries=500, max_chars=2_000_000)


def check_document(
    schema: GraphQLSchema,
    query: str,
    variables: dict[str, Any] | None,
    validation_rules: Any,
) -> tuple[DocumentNode | None, list[GraphQLError]]:
    """Parse and validate ``query`` with the limits first, then the standard rules (plus
    ``validation_rules``' extras); each distinct text once per worker, the limits per request only
    where the request's variables change the cost. Returns the document and the errors to answer."""
    key = (query, validation_rules is not None, *limits_in_force())
    entry = DOCUMENTS.get(key)
    if entry is None:
        try:
            document = parse(query, max_tokens=settings.GRAPHQL_MAX_TOKENS)
        except GraphQLError as exc:
            entry = CheckedDocument(document=None, parse_errors=[exc])
        else:
            finder = _PageSizeVariables()
            visit(document, finder)
            entry = CheckedDocument(document=document)
            if not finder.found:
                entry.limit_errors = validate(schema, document, limit_rules(None))
        DOCUMENTS.put(key, entry)
    if entry.document is None:
        return None, entry.parse_errors
    limit_errors = entry.limit_errors
    if limit_errors is None:
        limit_errors = validate(schema, entry.document, limit_rules(variables))
    if limit_errors:
        return entry.document, limit_errors
    if entry.errors is None:
        entry.errors = validate(
            schema, entry.document, validation_rules, graphene_settings.MAX_VALIDATION_ERRORS
        )
    return entry.document, entry.errors


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
        """graphene-django's ``execute_graphql_request`` with the document parsed and validated
        through :func:`check_document` (cached) instead of on every request."""
        if not query:
            if show_graphiql:
                return None
            raise HttpError(HttpResponseBadRequest("Must provide query string."))
        schema = self.schema.graphql_schema
        schema_errors = validate_schema(schema)  # memoised by graphql-core on the schema
        if schema_errors:
            return ExecutionResult(data=None, errors=schema_errors)
        document, errors = check_document(schema, query, variables, self.validation_rules)
        if document is None or errors:
            return ExecutionResult(data=None, errors=list(errors))
        operation_ast = get_operation_ast(document, operation_name)
        if (
            request.method.lower() == "get"
            and operation_ast is not None
            and operation_ast.operation != OperationType.QUERY
        ):
            if show_graphiql:
                return None
            raise HttpError(
                HttpResponseNotAllowed(
                    ["POST"],
                    f"Can only perform a {operation_ast.operation.value} operation from a POST request.",
                )
            )
        try:
            options: dict[str, Any] = {
                "root_value": self.get_root_value(request),
                "context_value": self.get_context(request),
                "variable_values": variables,
                "operation_name": operation_name,
                "middleware": self.get_middleware(request),
            }
            if self.execution_context_class:
                options["execution_context_class"] = self.execution_context_class
            if (
                operation_ast is not None
                and operation_ast.operation == OperationType.MUTATION
                and (
                    graphene_settings.ATOMIC_MUTATIONS is True
                    or connection.settings_dict.get("ATOMIC_MUTATIONS", False) is True
                )
            ):
                with transaction.atomic():
                    result = execute(schema, document, **options)
                    if getattr(request, MUTATION_ERRORS_FLAG, False) is True:
                        transaction.set_rollback(True)
                return result
            return execute(schema, document, **options)
        except Exception as exc:
            return ExecutionResult(errors=[exc])

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
    """``statement_timeout`` = the request budget for the request's SQL on PostgreSQL.

    Outside a transaction (every request in production) it is a session setting kept on the
    connection for its life: set once, and again only when the budget changes, instead of a SET and
    a RESET round trip on every request (two of a pledge's statements). The connection is the web
    thread's own (Celery workers and the embedded task threads have theirs), so it bounds only
    requests. Inside a transaction (``ATOMIC_REQUESTS``, a test's) a rollback would undo the SET
    unseen, so there it is set and reset around the request as before."""

    #: raw connection → the statement_timeout (ms) set on it by this class
    _set_on: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()

    def __init__(self, seconds: float) -> None:
        self.ms = max(int(seconds * 1000), 1)
        self.active = connection.vendor == "postgresql"
        self.reset = False

    def __enter__(self) -> None:
        if not self.active:
            return
        connection.ensure_connection()
        raw = connection.connection
        self.reset = connection.in_atomic_block
        if not self.reset and self._set_on.get(raw) == self.ms:
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{self.ms}ms"])
        if self.reset:
            self._set_on.pop(raw, None)
        else:
            self._set_on[raw] = self.ms

    def __exit__(self, *exc: Any) -> None:
        if self.reset and connection.connection is not None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("RESET statement_timeout")
            except Exception:  # a broken connection is closed and replaced by Django anyway
                logger.warning("could not reset statement_timeout")
