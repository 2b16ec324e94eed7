from django.apps import AppConfig


class MlsConfig(AppConfig):
    name = "mls"
    verbose_name = "MLS sync and publishing"

    def ready(self) -> None:
        # Imported here: the app registry must be ready before the models load.
        from drafts import doorbell, list_rows, part_state
        from drafts import layout as drafts_layout
        from media_manager import views as media_views

        from . import checks, enqueue, metadata, part_states, tasks  # noqa: F401 (tasks: the Celery tasks)
        from .models import listen_open_houses
        from .templatetags.sync import badges_html, media_sync_context

        checks.register()
        doorbell.listen(enqueue.ring)
        listen_open_houses(enqueue.ring_open_house)
        # The editor and the rules read the MLS's layout, lists and rules through drafts.layout.
        drafts_layout.provide(metadata)
        _provide_part_fields()
        media_views.provide_sync_context(media_sync_context)
        part_state.provide(part_states.part_states)
        list_rows.provide_sync_badges(badges_html)


def _provide_part_fields() -> None:
    """Hand the MLS's room and unit fields to the editor's rooms and units (drafts must not
    import mls: drafts/part_fields.py)."""
    from django.conf import settings

    from drafts import part_fields

    from . import metadata
    from .models import MetadataService, MlsMetadata

    def lists_read() -> bool:
        return MlsMetadata.objects.filter(
            mls_id=settings.SPARK_MLS_ID, service=MetadataService.ROOM_FIELDS, payload__isnull=False
        ).exists()

    part_fields.provide(
        part_fields.PartFieldSource(
            room_fields=metadata.room_fields, unit_fields=metadata.unit_fields, lists_read=lists_read
        )
    )
