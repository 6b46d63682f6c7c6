# The sweeper reclaims RUNNING queue jobs of dead workers; the job table keeps every
# finished job, so the lookup needs a partial index (the package has none for it).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0004_http_only_links"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX tf_dbtaskresult_running ON django_tasks_database_dbtaskresult (started_at) "
            "WHERE status = 'RUNNING'",
            "DROP INDEX tf_dbtaskresult_running",
        )
    ]
