# The back office's event list is the company's newest events: one index (company,
# created_at, id) serves it and the foreign key, in place of the foreign key's own.
# Built before the old one goes, so the table is never without an index on company.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_user_is_task_worker'),
        ('tickets', '0008_notification_email_mode_returned'),
        ('workflows', '0009_assignment_rules'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='timelineevent',
            index=models.Index(fields=['company', 'created_at', 'id'], name='timeline_company_date'),
        ),
        migrations.AlterField(
            model_name='timelineevent',
            name='company',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='accounts.company'),
        ),
    ]
