# The least-loaded pick (workflows.assignment) walks this partial index in its order:
# fewest open tasks, never or least recently assigned, lowest id; the first row is the
# answer, whatever the size of the pool or of the company.

from typing import Any

from django.db import migrations, models

_COLUMNS = "company_id, open_tasks, last_assigned_at {nulls}, id"
_WHERE = "WHERE is_active AND is_available AND is_task_worker"


def flag_task_workers(apps: Any, schema_editor: Any) -> None:
    User = apps.get_model("accounts", "User")
    members = User.groups.through.objects.filter(group__name="task_worker").values("user_id")
    User.objects.filter(pk__in=members).update(is_task_worker=True)


def create_index(apps: Any, schema_editor: Any) -> None:
    # PostgreSQL sorts NULLs last by default; SQLite first (and has no NULLS clause in an index).
    nulls = "NULLS FIRST" if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX accounts_user_worker_pool ON accounts_user ({_COLUMNS.format(nulls=nulls)}) {_WHERE}"
    )


def drop_index(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute("DROP INDEX accounts_user_worker_pool")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_open_tasks"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="is_task_worker",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunPython(flag_task_workers, migrations.RunPython.noop),
        migrations.RunPython(create_index, drop_index),
    ]
