"""The back office (Django admin themed with unfold), split by what each admin serves:
`tickets` (tickets, attachments, timeline), `tasks`, `errors`, `definitions` (workflows,
tasks, transitions, ticket types, bundles) with `resources` for CSV/JSON import-export,
and `mixins` for what they share. Importing the package registers them all."""

from tickets.admin import definitions, errors, tasks, tickets  # noqa: F401  (registers the admins)
