from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Q


class UsernameOrPhoneBackend(ModelBackend):
    """Log in with a username or an 11-digit mobile number."""

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ):
        if username is None or password is None:
            return None
        model = get_user_model()
        user = model.objects.filter(Q(username=username) | Q(phone=username)).order_by("pk").first()
        if user is None:
            model().set_password(password)  # same work as a real check: no timing oracle
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


#: The backend a session is bound to when a page logs a new user in (sign-up): the one that also
#: loads the user back on later requests (axes' standalone backend, first in the list, only refuses).
SESSION_BACKEND = f"{UsernameOrPhoneBackend.__module__}.{UsernameOrPhoneBackend.__qualname__}"
