from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views
from .views import ThrottledLoginView

# The inbox is namespaced ("accounts:inbox"); sign-in and sign-out keep Django's plain names.
inbox_patterns = [
    path("", views.inbox, name="inbox"),
    path("read-all/", views.inbox_mark_all_read, name="inbox_mark_all_read"),
    path("<int:pk>/open/", views.notification_open, name="notification_open"),
    path("<int:pk>/read/", views.notification_mark_read, name="notification_mark_read"),
]

urlpatterns = [
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("inbox/", include((inbox_patterns, "accounts"))),
]
