from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import Company, Office, User


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Office)
class OfficeAdmin(admin.ModelAdmin):
    list_display = ["name", "company", "phone", "email", "time_zone"]
    list_filter = ["company"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "first_name", "last_name", "office", "role", "is_active"]
    list_filter = ["role", "office", "is_active"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Brokerage", {"fields": ["office", "role", "remote_agent_id"]}),
        (
            "Agent profile (ListAgent* fields)",
            {
                "fields": [
                    "middle_name",
                    "preferred_phone",
                    "preferred_phone_ext",
                    "office_phone",
                    "office_phone_ext",
                    "cell_phone",
                    "direct_phone",
                    "toll_free_phone",
                    "fax",
                    "pager",
                    "voice_mail",
                    "voice_mail_ext",
                    "url",
                    "state_license",
                    "designation",
                ]
            },
        ),
    )
