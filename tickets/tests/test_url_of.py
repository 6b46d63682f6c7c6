"""The `url_of` filter: list rows' links without the `{% url %}` tag's pattern walk
(issue 15), the same paths as `reverse`."""

from django.template import Context, Template
from django.test import SimpleTestCase
from django.urls import NoReverseMatch, clear_script_prefix, reverse, set_script_prefix

from tickets.templatetags.links import url_of


class UrlOfTests(SimpleTestCase):
    def test_same_path_as_reverse(self) -> None:
        for name in ("ticket_detail", "task_detail", "task_claim", "attachment_download"):
            for pk in (1, 42, 9_000_000_000):
                self.assertEqual(url_of(pk, name), reverse(name, args=[pk]))

    def test_follows_the_script_prefix(self) -> None:
        self.assertEqual(url_of(7, "ticket_detail"), "/tickets/7/")
        set_script_prefix("/desk/")
        try:
            self.assertEqual(url_of(7, "ticket_detail"), "/desk/tickets/7/")
            self.assertEqual(url_of(7, "ticket_detail"), reverse("ticket_detail", args=[7]))
        finally:
            clear_script_prefix()
        self.assertEqual(url_of(7, "ticket_detail"), "/tickets/7/")

    def test_only_integer_ids(self) -> None:
        with self.assertRaises(ValueError):
            url_of("7/../../admin", "ticket_detail")
        with self.assertRaises(NoReverseMatch):
            url_of(7, "home")  # takes no id

    def test_in_a_template(self) -> None:
        html = Template("{% load links %}<a href=\"{{ pk|url_of:'ticket_detail' }}\">").render(
            Context({"pk": 5})
        )
        self.assertEqual(html, '<a href="/tickets/5/">')
