from django.db import migrations
from django.db.models import OuterRef, Subquery


def fill_submitted_by(apps, schema_editor):
    """Existing instances learn their submitter from their ticket (the `submitter` rule)."""
    Ticket = apps.get_model("tickets", "Ticket")
    WorkflowInstance = apps.get_model("workflows", "WorkflowInstance")
    WorkflowInstance._base_manager.filter(submitted_by__isnull=True).update(
        submitted_by=Subquery(
            Ticket._base_manager.filter(workflow_instance=OuterRef("pk")).values("created_by")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0005_comments_notifications"),
        ("workflows", "0009_assignment_rules"),
    ]

    operations = [migrations.RunPython(fill_submitted_by, migrations.RunPython.noop)]
