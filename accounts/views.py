from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from . import throttle
from .models import Notification


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


class ThrottledLoginView(auth_views.LoginView):
    """Django's login view, refusing further tries after repeated failures (accounts/throttle.py)."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        form = self.get_form()
        # The name authentication will look up: the form field strips and NFKC-normalises it.
        username = form.fields["username"].to_python(form.data.get("username"))
        refusal = throttle.refusal_for(username, client_ip(request))
        if refusal is not None:
            return self.refuse(username, refusal)
        if form.is_valid():
            return self.form_valid(form)
        throttle.record_failure(username, client_ip(request))
        return self.form_invalid(form)

    def form_valid(self, form):
        throttle.clear_failures_of(form.get_user().get_username(), client_ip(self.request))
        return super().form_valid(form)

    def refuse(self, username: str, refusal: throttle.Refusal) -> HttpResponse:
        """429 without checking the password: an unbound form, so nothing authenticates."""
        form = self.get_form_class()(request=self.request, initial={"username": username})
        response = self.render_to_response(self.get_context_data(form=form, refusal=refusal.message))
        response.status_code = 429
        response["Retry-After"] = str(refusal.retry_after_seconds)
        return response


# --- The inbox ---

INBOX_PAGE_SIZE = 30


def _inbox_context(request: HttpRequest) -> dict:
    notifications = Notification.objects.for_user(request.user)
    page = Paginator(notifications, INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "page": page,
        "notifications": page.object_list,
        "unread_count": notifications.unread().count(),
        "nav": "inbox",
    }


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    context = _inbox_context(request)
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "accounts/inbox.html#inbox_list", context)
    return render(request, "accounts/inbox.html", context)


def _own_notification(request: HttpRequest, pk: int) -> Notification:
    return get_object_or_404(Notification.objects.for_user(request.user), pk=pk)


@login_required
@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark read and go where it points (a path in the portal, never another site)."""
    notification = _own_notification(request, pk)
    notification.mark_read()
    if url_has_allowed_host_and_scheme(notification.url, allowed_hosts=None) and notification.url.startswith(
        "/"
    ):
        return redirect(notification.url)
    return redirect("accounts:inbox")


@login_required
@require_POST
def notification_mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: the notification again, and the unread count in the navigation out of band."""
    notification = _own_notification(request, pk)
    notification.mark_read()
    if not request.htmx:
        return redirect("accounts:inbox")
    context = {
        "notification": notification,
        "unread_count": Notification.objects.for_user(request.user).unread().count(),
        "oob": True,
    }
    return render(request, "accounts/inbox.html#notification_row", context)


@login_required
@require_POST
def inbox_mark_all_read(request: HttpRequest) -> HttpResponse:
    Notification.objects.for_user(request.user).mark_read()
    if request.htmx:
        context = _inbox_context(request) | {"oob": True}
        return render(request, "accounts/inbox.html#inbox_list", context)
    return redirect("accounts:inbox")
