# The models of the former `spark` app (mls/legacy), taken over in state only: the tables and
# their rows stay as they are, under their old names (0002 renames them).

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('spark', '0003_models_moved_to_mls'),
        ('drafts', '0004_review_workflow'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Promotion',
                    fields=[
                        ('draft', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='promotion', serialize=False, to='drafts.draft')),
                        ('state', models.CharField(choices=[('running', 'Publishing'), ('waiting', 'Waiting to retry'), ('failed', 'Failed'), ('done', 'Live')], default='running', max_length=10)),
                        ('step', models.CharField(choices=[('validate', 'Check with the MLS'), ('create', 'Create the listing'), ('photos', 'Upload the photos'), ('documents', 'Upload the documents'), ('verify', 'Read back and compare'), ('cleanup', 'Remove the incomplete listing'), ('done', 'Live')], default='validate', max_length=10)),
                        ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('listing_id', models.CharField(blank=True, max_length=40)),
                        ('listing_number', models.CharField(blank=True, max_length=40)),
                        ('create_sent_at', models.DateTimeField(blank=True, null=True)),
                        ('confirmed_fields', models.JSONField(blank=True, default=dict)),
                        ('photo_order', models.JSONField(blank=True, default=list)),
                        ('primary_photo', models.CharField(blank=True, max_length=40)),
                        ('document_order', models.JSONField(blank=True, default=list)),
                        ('verify_rounds', models.PositiveSmallIntegerField(default=0)),
                        ('lease_owner', models.CharField(blank=True, max_length=120)),
                        ('lease_expires_at', models.DateTimeField(blank=True, null=True)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                        ('error_message', models.TextField(blank=True)),
                        ('error_details', models.JSONField(blank=True, default=list)),
                        ('error_at', models.DateTimeField(blank=True, null=True)),
                        ('log', models.JSONField(blank=True, default=list)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('started_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'spark_promotion',
                    },
                ),
                migrations.CreateModel(
                    name='PromotionItem',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('ticket_token', models.CharField(blank=True, max_length=128)),
                        ('ticket_uri', models.CharField(blank=True, max_length=500)),
                        ('ticket_expires_at', models.DateTimeField(blank=True, null=True)),
                        ('ticket_refused', models.BooleanField(default=False)),
                        ('kind', models.CharField(choices=[('photo', 'Photo'), ('document', 'Document')], max_length=10)),
                        ('local_id', models.PositiveBigIntegerField()),
                        ('upload_token', models.UUIDField(blank=True, null=True)),
                        ('remote_id', models.CharField(blank=True, max_length=40)),
                        ('sending', models.BooleanField(default=False)),
                        ('sending_since', models.DateTimeField(blank=True, null=True)),
                        ('name', models.CharField(blank=True, max_length=255)),
                        ('caption', models.TextField(blank=True)),
                        ('privacy', models.CharField(blank=True, max_length=12)),
                        ('content_sha256', models.CharField(blank=True, max_length=64)),
                        ('confirmed_at', models.DateTimeField(blank=True, null=True)),
                        ('promotion', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='items', to='mls.promotion')),
                    ],
                    options={
                        'db_table': 'spark_promotionitem',
                    },
                ),
                migrations.CreateModel(
                    name='RemoteCall',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('method', models.CharField(max_length=8)),
                        ('route', models.CharField(max_length=40)),
                        ('path', models.CharField(max_length=300)),
                        ('status', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('spark_code', models.IntegerField(blank=True, null=True)),
                        ('duration_ms', models.FloatField(default=0)),
                        ('outcome', models.CharField(choices=[('ok', 'OK'), ('failed', 'Failed'), ('unknown', 'No answer')], default='ok', max_length=8)),
                        ('purpose', models.CharField(blank=True, max_length=200)),
                        ('message', models.CharField(blank=True, max_length=500)),
                        ('change_seq', models.PositiveBigIntegerField(blank=True, null=True)),
                        ('request_id', models.CharField(blank=True, max_length=80)),
                        ('worker', models.CharField(blank=True, max_length=120)),
                        ('draft', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='remote_calls', to='drafts.draft')),
                    ],
                    options={
                        'db_table': 'spark_remotecall',
                        'ordering': ['-at', '-pk'],
                    },
                ),
                migrations.CreateModel(
                    name='RemoteItem',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('ticket_token', models.CharField(blank=True, max_length=128)),
                        ('ticket_uri', models.CharField(blank=True, max_length=500)),
                        ('ticket_expires_at', models.DateTimeField(blank=True, null=True)),
                        ('ticket_refused', models.BooleanField(default=False)),
                        ('kind', models.CharField(choices=[('photo', 'Photo'), ('document', 'Document')], max_length=10)),
                        ('local_id', models.PositiveBigIntegerField(blank=True, null=True)),
                        ('upload_token', models.UUIDField(blank=True, null=True)),
                        ('remote_id', models.CharField(blank=True, max_length=40)),
                        ('sending', models.BooleanField(default=False)),
                        ('sending_since', models.DateTimeField(blank=True, null=True)),
                        ('replacing', models.CharField(blank=True, max_length=40)),
                        ('pending_sha256', models.CharField(blank=True, max_length=64)),
                        ('name', models.CharField(blank=True, max_length=255)),
                        ('caption', models.TextField(blank=True)),
                        ('privacy', models.CharField(blank=True, max_length=12)),
                        ('content_sha256', models.CharField(blank=True, max_length=64)),
                        ('confirmed_at', models.DateTimeField(blank=True, null=True)),
                        ('failed_seq', models.PositiveBigIntegerField(blank=True, null=True)),
                        ('error_message', models.TextField(blank=True)),
                        ('error_code', models.IntegerField(blank=True, null=True)),
                        ('error_at', models.DateTimeField(blank=True, null=True)),
                        ('draft', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='remote_items', to='drafts.draft')),
                    ],
                    options={
                        'db_table': 'spark_remoteitem',
                    },
                ),
                migrations.CreateModel(
                    name='DraftSync',
                    fields=[
                        ('draft', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='sync', serialize=False, to='drafts.draft')),
                        ('state', models.CharField(choices=[('pending', 'Waiting to sync'), ('syncing', 'Syncing'), ('synced', 'Synced'), ('retrying', 'Retrying'), ('failed', 'Refused by the MLS'), ('attention', 'Needs attention'), ('drift', 'Changed in the MLS')], default='pending', max_length=12)),
                        ('confirmed_seq', models.PositiveBigIntegerField(default=0)),
                        ('blocked_seq', models.PositiveBigIntegerField(blank=True, null=True)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                        ('lease_owner', models.CharField(blank=True, max_length=120)),
                        ('lease_expires_at', models.DateTimeField(blank=True, null=True)),
                        ('enqueued_at', models.DateTimeField(blank=True, null=True)),
                        ('last_synced_at', models.DateTimeField(blank=True, null=True)),
                        ('last_attempt_at', models.DateTimeField(blank=True, null=True)),
                        ('error_message', models.TextField(blank=True)),
                        ('error_status', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('error_code', models.IntegerField(blank=True, null=True)),
                        ('error_details', models.JSONField(blank=True, default=list)),
                        ('error_at', models.DateTimeField(blank=True, null=True)),
                        ('remote_warnings', models.JSONField(blank=True, default=list)),
                        ('create_marker', models.CharField(blank=True, max_length=64)),
                        ('create_sent_at', models.DateTimeField(blank=True, null=True)),
                        ('create_street', models.CharField(blank=True, max_length=200)),
                        ('confirmed_fields', models.JSONField(blank=True, default=dict)),
                        ('fields_failed_seq', models.PositiveBigIntegerField(blank=True, null=True)),
                        ('photo_order', models.JSONField(blank=True, default=list)),
                        ('document_order', models.JSONField(blank=True, default=list)),
                        ('primary_photo', models.CharField(blank=True, max_length=40)),
                        ('verify_after', models.DateTimeField(blank=True, null=True)),
                        ('photo_order_seen', models.JSONField(blank=True, default=list)),
                        ('photo_order_seen_at', models.DateTimeField(blank=True, null=True)),
                        ('photo_order_pushed_at', models.DateTimeField(blank=True, null=True)),
                        ('document_order_seen', models.JSONField(blank=True, default=list)),
                        ('document_order_seen_at', models.DateTimeField(blank=True, null=True)),
                        ('document_order_pushed_at', models.DateTimeField(blank=True, null=True)),
                        ('drift_detected_at', models.DateTimeField(blank=True, null=True)),
                        ('drift_remote', models.JSONField(blank=True, default=dict)),
                        ('remote_checked_at', models.DateTimeField(blank=True, null=True)),
                        ('drift_decision', models.CharField(blank=True, max_length=8)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('drift_decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'spark_draftsync',
                        'indexes': [models.Index(fields=['state'], name='draftsync_state'), models.Index(fields=['next_attempt_at'], name='draftsync_next_attempt')],
                        'constraints': [models.CheckConstraint(condition=models.Q(('state__in', ['pending', 'syncing', 'synced', 'retrying', 'failed', 'attention', 'drift'])), name='draftsync_state_valid')],
                    },
                ),
                migrations.AddConstraint(
                    model_name='promotion',
                    constraint=models.CheckConstraint(condition=models.Q(('state__in', ['running', 'waiting', 'failed', 'done'])), name='promotion_state_valid'),
                ),
                migrations.AddConstraint(
                    model_name='promotion',
                    constraint=models.CheckConstraint(condition=models.Q(('step__in', ['validate', 'create', 'photos', 'documents', 'verify', 'cleanup', 'done'])), name='promotion_step_valid'),
                ),
                migrations.AddConstraint(
                    model_name='promotionitem',
                    constraint=models.UniqueConstraint(fields=('promotion', 'kind', 'local_id'), name='promotionitem_one_per_item'),
                ),
                migrations.AddConstraint(
                    model_name='promotionitem',
                    constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['photo', 'document'])), name='promotionitem_kind_valid'),
                ),
                migrations.AddIndex(
                    model_name='remotecall',
                    index=models.Index(fields=['draft', '-at'], name='remotecall_draft_recent'),
                ),
                migrations.AddIndex(
                    model_name='remoteitem',
                    index=models.Index(fields=['draft', 'kind'], name='remoteitem_draft_kind'),
                ),
                migrations.AddConstraint(
                    model_name='remoteitem',
                    constraint=models.UniqueConstraint(condition=models.Q(('local_id__isnull', False)), fields=('draft', 'kind', 'local_id'), name='remoteitem_one_per_local_item'),
                ),
                migrations.AddConstraint(
                    model_name='remoteitem',
                    constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['photo', 'document'])), name='remoteitem_kind_valid'),
                ),
            ],
            database_operations=[],
        ),
    ]
