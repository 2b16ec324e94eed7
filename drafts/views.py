from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import Draft


@login_required
def draft_list(request: HttpRequest) -> HttpResponse:
    drafts = Draft.objects.visible_to(request.user).active().select_related("list_agent")[:50]
    return render(request, "drafts/draft_list.html", {"drafts": drafts, "nav": "drafts"})
