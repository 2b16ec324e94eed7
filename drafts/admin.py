from django.contrib import admin

from .models import Draft, DraftEvent


@admin.register(Draft)
class DraftAdmin(admin.ModelAdmin):
    list_display = ["__str__", "office", "list_agent", "status", "version", "updated_at"]
    list_filter = ["status", "property_type", "office"]
    search_fields = ["street_name", "city", "postal_code"]
    raw_id_fields = ["list_agent", "co_list_agent", "created_by", "updated_by"]


@admin.register(DraftEvent)
class DraftEventAdmin(admin.ModelAdmin):
    """History is read-only, here as everywhere in the app."""

    list_display = ["draft", "kind", "field", "actor", "at"]
    list_filter = ["kind"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
