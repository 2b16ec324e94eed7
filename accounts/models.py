from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models, router
from django.db.models import Q
from django.utils import timezone

from listings_portal.compiled_get import compile_get, compiled_once


class Company(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def default_time_zone() -> str:
    return settings.TIME_ZONE


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a time zone name such as America/Chicago.") from None


class Office(models.Model):
    """A brokerage office. Its fields fill Spark's ListOffice* fields."""

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="offices")
    name = models.CharField(max_length=200)
    phone = models.CharField(max_length=40, blank=True)
    phone_ext = models.CharField(max_length=20, blank=True)
    fax = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    url = models.URLField(blank=True)
    mls_office_id = models.CharField("MLS office id", max_length=40, blank=True)
    # The times agents type (open houses) are in this zone, an IANA name ("America/Chicago").
    time_zone = models.CharField(max_length=64, default=default_time_zone, validators=[validate_time_zone])

    class Meta:
        ordering = ["company__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="office_name_unique_in_company"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        try:
            return zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo(settings.TIME_ZONE)

    def spark_fields(self) -> dict[str, str]:
        return {
            "ListOfficeName": self.name,
            "ListOfficePhone": self.phone,
            "ListOfficePhoneExt": self.phone_ext,
            "ListOfficeFax": self.fax,
            "ListOfficeEmail": self.email,
            "ListOfficeURL": self.url,
        }


class Role(models.TextChoices):
    AGENT = "agent", "Agent"
    OFFICE_ADMIN = "office_admin", "Office admin"
    COMPANY_ADMIN = "company_admin", "Company admin"


class PortalUserManager(UserManager):
    """Users come with their office and its company: every page names them in the header, and
    scoping starts from them, so the signed-in user is loaded with both in one query."""

    def get_queryset(self):
        return super().get_queryset().select_related("office__company")

    def get(self, *args, **kwargs):
        """`get(pk=...)`, as the auth middleware reads the signed-in user on every request, with
        its SQL compiled once per connection (the ORM's compilation was ~2.4k Python calls a
        request); any other get() goes through the ORM."""
        if args or kwargs.keys() != {"pk"}:
            return super().get(*args, **kwargs)
        alias = router.db_for_read(self.model)
        compiled = compiled_once(
            alias,
            ("user by pk", self.model),
            lambda: compile_get(self.get_queryset().filter(pk=_PK_STAND_IN), alias, {_PK_STAND_IN: "pk"}),
        )
        if compiled is None:
            return super().get(*args, **kwargs)
        key = self.model._meta.pk.get_prep_value(kwargs["pk"])
        user = compiled.fetch({"pk": lambda: key})
        if user is None:
            raise self.model.DoesNotExist(f"{self.model._meta.object_name} matching query does not exist.")
        return user


# A key no user has: `PortalUserManager.get`'s query is compiled with it, never executed with it.
_PK_STAND_IN = -2_000_000_101


class User(AbstractUser):
    """A member of a brokerage. The agent profile fields fill Spark's ListAgent* fields."""

    office = models.ForeignKey(
        Office, on_delete=models.PROTECT, related_name="members", null=True, blank=True
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.AGENT)

    middle_name = models.CharField(max_length=150, blank=True)
    preferred_phone = models.CharField(max_length=40, blank=True)
    preferred_phone_ext = models.CharField(max_length=20, blank=True)
    office_phone = models.CharField(max_length=40, blank=True)
    office_phone_ext = models.CharField(max_length=20, blank=True)
    cell_phone = models.CharField(max_length=40, blank=True)
    direct_phone = models.CharField(max_length=40, blank=True)
    toll_free_phone = models.CharField(max_length=40, blank=True)
    fax = models.CharField(max_length=40, blank=True)
    pager = models.CharField(max_length=40, blank=True)
    voice_mail = models.CharField(max_length=40, blank=True)
    voice_mail_ext = models.CharField(max_length=20, blank=True)
    url = models.URLField("web site", blank=True)
    state_license = models.CharField(max_length=40, blank=True)
    designation = models.CharField(max_length=100, blank=True, help_text="e.g. CRS, GRI")
    remote_agent_id = models.CharField(
        "MLS agent id", max_length=26, blank=True, help_text="The agent's Id in the MLS (ListAgentId)."
    )

    objects = PortalUserManager()

    class Meta:
        ordering = ["last_name", "first_name", "username"]
        constraints = [
            # Everyone but a superuser belongs to an office: scoping starts from it.
            models.CheckConstraint(
                condition=models.Q(office__isnull=False) | models.Q(is_superuser=True),
                name="user_has_office_unless_superuser",
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_agent(self) -> bool:
        return self.role == Role.AGENT

    @property
    def is_office_admin(self) -> bool:
        return self.role == Role.OFFICE_ADMIN

    @property
    def is_company_admin(self) -> bool:
        return self.role == Role.COMPANY_ADMIN

    @property
    def is_reviewer(self) -> bool:
        return self.role in (Role.OFFICE_ADMIN, Role.COMPANY_ADMIN)

    @property
    def company_id(self) -> int | None:
        return self.office.company_id if self.office_id else None

    def spark_fields(self, prefix: str = "ListAgent") -> dict[str, str]:
        values = {
            "FirstName": self.first_name,
            "MiddleName": self.middle_name,
            "LastName": self.last_name,
            "PreferredPhone": self.preferred_phone,
            "PreferredPhoneExt": self.preferred_phone_ext,
            "OfficePhone": self.office_phone,
            "OfficePhoneExt": self.office_phone_ext,
            "CellPhone": self.cell_phone,
            "DirectPhone": self.direct_phone,
            "TollFreePhone": self.toll_free_phone,
            "Fax": self.fax,
            "Pager": self.pager,
            "VoiceMail": self.voice_mail,
            "VoiceMailExt": self.voice_mail_ext,
            "Email": self.email,
            "URL": self.url,
            "StateLicense": self.state_license,
            "Designation": self.designation,
        }
        return {prefix + key: value for key, value in values.items()}


class LoginAttempt(models.Model):
    """A failed sign-in, counted per username and per client address for throttling."""

    username = models.CharField(max_length=150, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, db_index=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.username} from {self.ip_address} at {self.at:%Y-%m-%d %H:%M}"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def for_user(self, user) -> NotificationQuerySet:
        return self.filter(recipient=user) if user.is_authenticated else self.none()

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)

    def mark_read(self) -> int:
        """Mark the unread ones of this set read now; how many were."""
        return self.unread().update(read_at=timezone.now())


class Notification(models.Model):
    """One message in a person's inbox. It carries its own text and a path in the portal, so
    accounts knows nothing of what it is about."""

    TEXT_MAX = 300

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    text = models.CharField(max_length=TEXT_MAX)
    # A path inside the portal ("/drafts/12/"), never another site's address.
    url = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_inbox"),
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="notification_text_not_empty"),
            models.CheckConstraint(
                condition=Q(url__startswith="/") & ~Q(url__startswith="//"), name="notification_url_is_a_path"
            ),
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    @classmethod
    def send(cls, recipients, *, text: str, url: str) -> list[Notification]:
        """One unread notification for each recipient (duplicates and None skipped)."""
        text = " ".join(text.split())[: cls.TEXT_MAX] or "Something changed."
        seen: set[int] = set()
        rows = []
        for user in recipients:
            if user is None or user.pk in seen:
                continue
            seen.add(user.pk)
            rows.append(cls(recipient=user, text=text, url=url))
        return cls.objects.bulk_create(rows)

    def mark_read(self) -> bool:
        """True if it was unread."""
        if self.read_at is not None:
            return False
        self.read_at = timezone.now()
        return bool(
            Notification.objects.filter(pk=self.pk, read_at__isnull=True).update(read_at=self.read_at)
        )
