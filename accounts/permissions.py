from django.contrib.auth.models import Group, Permission

from accounts.roles import ROLE_PERMISSIONS


def sync_role_groups(using: str = "default") -> None:
    """Makes each system role's group hold exactly the permissions in ROLE_PERMISSIONS."""
    for role, grants in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=str(role))
        wanted = []
        for model_label, actions in grants.items():
            app_label, model = model_label.split(".")
            for action in actions:
                wanted.append(
                    Permission.objects.using(using).get(
                        content_type__app_label=app_label, codename=f"{action}_{model}"
                    )
                )
        group.permissions.set(wanted)
