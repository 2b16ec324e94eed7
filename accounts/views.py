from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from . import throttle


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


class ThrottledLoginView(auth_views.LoginView):
    """Django's login view, refusing further tries after repeated failures."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        throttle.clear(form.get_user().get_username(), client_ip(self.request))
        return super().form_valid(form)

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "")
        if throttle.is_locked_out(username, client_ip(request)):
            form = self.get_form()
            form.is_valid()
            form.errors.clear()
            form.add_error(
                None,
                ValidationError(
                    "Too many failed sign-ins. Wait 15 minutes and try again, or ask your office admin."
                ),
            )
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        if self.request.method == "POST" and not form.non_field_errors().as_text().startswith("* Too many"):
            throttle.record_failure(self.request.POST.get("username", ""), client_ip(self.request))
        return super().form_invalid(form)
