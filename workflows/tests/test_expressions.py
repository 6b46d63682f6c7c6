from django.test import SimpleTestCase

from workflows.expressions import ExpressionError, apply_transform, compile_expression, evaluate, is_truthy


class ExpressionTests(SimpleTestCase):
    def test_bad_expression_names_expression_and_reason(self) -> None:
        with self.assertRaises(ExpressionError) as ctx:
            compile_expression("tasks.[")
        self.assertEqual(ctx.exception.expression, "tasks.[")
        self.assertIn("tasks.[", str(ctx.exception))
        self.assertTrue(ctx.exception.reason)

    def test_runtime_error_names_expression(self) -> None:
        with self.assertRaises(ExpressionError) as ctx:
            evaluate("abs(ticket.name)", {"ticket": {"name": "x"}})
        self.assertIn("abs(ticket.name)", str(ctx.exception))

    def test_compiled_once(self) -> None:
        compile_expression.cache_clear()
        for _ in range(3):
            compile_expression("ticket.amount > `5`")
        info = compile_expression.cache_info()
        self.assertEqual((info.misses, info.hits), (1, 2))

    def test_transform_and_truthiness(self) -> None:
        ctx = {"ticket": {"a": 1}, "tasks": {"t": {"ok": True}}}
        self.assertEqual(apply_transform({"x": "ticket.a", "y": "tasks.t.ok"}, ctx), {"x": 1, "y": True})
        self.assertIsNone(apply_transform({}, ctx))
        values: list[object] = [None, False, "", [], {}, 0, "a"]
        self.assertEqual([is_truthy(v) for v in values], [False] * 5 + [True, True])
