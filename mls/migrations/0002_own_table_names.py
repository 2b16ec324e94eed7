# The tables moved from the `spark` app take mls's own names (a rename: rows, indexes and
# foreign keys stay); their content types follow, so permissions granted on them are kept.

from django.db import migrations

MOVED = ["draftsync", "promotion", "promotionitem", "remotecall", "remoteitem"]


def content_types_to(new_label, old_label):
    def move(apps, schema_editor):
        content_type = apps.get_model("contenttypes", "ContentType")
        taken = set(content_type.objects.filter(app_label=new_label).values_list("model", flat=True))
        content_type.objects.filter(app_label=old_label, model__in=MOVED).exclude(model__in=taken).update(
            app_label=new_label
        )

    return move


class Migration(migrations.Migration):

    dependencies = [
        ('mls', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.AlterModelTable(
            name='draftsync',
            table=None,
        ),
        migrations.AlterModelTable(
            name='promotion',
            table=None,
        ),
        migrations.AlterModelTable(
            name='promotionitem',
            table=None,
        ),
        migrations.AlterModelTable(
            name='remotecall',
            table=None,
        ),
        migrations.AlterModelTable(
            name='remoteitem',
            table=None,
        ),
        migrations.RunPython(content_types_to("mls", "spark"), content_types_to("spark", "mls")),
    ]
