"""Sign in and out of the web UI.

Username and password use Django's own views; the "Sign in with ..." buttons start social-auth's
login with a POST (and its CSRF token) to ``/auth/login/<backend>/``, shown only for providers an
operator enabled, so nobody is sent to a login that would answer 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views

from devops.web.views_pages import enabled_sign_in_providers


class LoginView(auth_views.LoginView):
    """Django's login form plus the enabled providers' buttons (read per request: enabling a provider
    in the admin shows its button at once)."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["providers"] = enabled_sign_in_providers()
        return context


class LogoutView(auth_views.LogoutView):
    """POST only (Django 5): a link or an image tag on another site cannot sign anyone out."""
