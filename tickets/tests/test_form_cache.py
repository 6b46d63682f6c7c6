"""`{% blank_form_fields %}`: an unbound comment form's fields are rendered once and give
the same HTML as the include; bound forms and other forms render every time."""

from unittest import mock

from django import forms
from django.template.loader import render_to_string
from django.test import SimpleTestCase

from tickets.forms import CommentForm
from tickets.templatetags import form_cache


class BlankFormFieldsTests(SimpleTestCase):
    def setUp(self) -> None:
        form_cache._html.clear()

    def test_an_unbound_comment_form_is_rendered_once_per_set_of_fields(self) -> None:
        for team in (True, False, True, False):
            form = CommentForm(team=team)
            self.assertEqual(
                form_cache.blank_form_fields(form), render_to_string("form_fields.html", {"form": form})
            )
        self.assertEqual(len(form_cache._html), 2)  # with and without "internal"
        with mock.patch.object(form_cache, "render_to_string") as render:
            html = form_cache.blank_form_fields(CommentForm(team=True))
        render.assert_not_called()
        self.assertIn('name="internal"', html)

    def test_a_bound_form_shows_its_own_values_and_errors(self) -> None:
        form_cache.blank_form_fields(CommentForm(team=False))
        bound = CommentForm({"body": ""}, team=False)
        html = form_cache.blank_form_fields(bound)
        self.assertIn('class="errorlist"', html)
        self.assertEqual(html, render_to_string("form_fields.html", {"form": bound}))
        typed = form_cache.blank_form_fields(CommentForm({"body": "Hello <b>"}, team=False))
        self.assertIn("Hello &lt;b&gt;", typed)

    def test_forms_that_do_not_say_so_are_rendered_every_time(self) -> None:
        class Named(forms.Form):
            name = forms.CharField()

            def __init__(self, name: str) -> None:
                super().__init__(initial={"name": name})

        self.assertIn('value="Ada"', form_cache.blank_form_fields(Named("Ada")))
        self.assertIn('value="Bob"', form_cache.blank_form_fields(Named("Bob")))
        greeting = form_cache.blank_form_fields(CommentForm(team=False, initial={"body": "Hi there"}))
        self.assertIn("Hi there", greeting)
        self.assertEqual(form_cache._html, {})
