"""List filters that pick one person by autocomplete instead of listing every user of
the company in the page (2,000 workers made the task list 1 MB)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from unfold.contrib.filters.forms import AutocompleteDropdownForm

from accounts.models import User
from tickets import access
from workflows.models import TaskInstance


class PersonAutocompleteFilter(admin.SimpleListFilter):
    """Renders a select2 autocomplete; the search runs through the admin's autocomplete
    endpoint on `TaskInstance.assigned_to`, whose results the user admin scopes to the
    company. The chosen person's label is looked up inside the company too."""

    # unfold's filters_field.html, cached while nobody is chosen (see the template).
    template = "admin/tf_person_filter.html"
    form_class = AutocompleteDropdownForm  # unfold adds its Media (select2) to the page
    source_field = TaskInstance._meta.get_field("assigned_to")

    def __init__(self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        self.request = request
        self.model_admin = model_admin

    def has_output(self) -> bool:
        return True

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return []

    def person_id(self) -> int | None:
        value = self.value()
        return int(value) if value and value.isdigit() and len(value) < 19 else None

    def choices(self, changelist: Any) -> Any:
        form = AutocompleteDropdownForm(
            request=self.request,
            name=self.parameter_name,
            label=f" By {self.title} ",
            choices=(),
            field=self.source_field,
            model_admin=self.model_admin,
            data={self.parameter_name: self.person_id()},
        )
        form.fields[self.parameter_name].queryset = access.backoffice(self.request.user, User.objects.all())  # type: ignore[attr-defined]
        yield {"form": form}
