# The models moved to the `mls` app: removed from this app's state only, their tables and rows
# stay (mls/migrations/0001_initial.py takes them over).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("spark", "0002_promotion"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="PromotionItem"),
                migrations.DeleteModel(name="Promotion"),
                migrations.DeleteModel(name="RemoteItem"),
                migrations.DeleteModel(name="RemoteCall"),
                migrations.DeleteModel(name="DraftSync"),
            ],
            database_operations=[],
        ),
    ]
