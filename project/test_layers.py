"""The app graph runs one way: tickets -> workflows -> accounts. Checked on the source, so a
lazy import inside a function counts too."""

import ast
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase

# Each app and the apps above it, which it must never import.
ABOVE = {"accounts": {"workflows", "tickets", "api"}, "workflows": {"tickets", "api"}, "tickets": {"api"}}


def _imported_apps(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


class LayerTests(SimpleTestCase):
    def test_no_module_imports_a_higher_layer(self) -> None:
        base = Path(settings.BASE_DIR)
        offences = []
        for app, above in ABOVE.items():
            for path in sorted((base / app).rglob("*.py")):
                if "tests" in path.parts or "migrations" in path.parts:
                    continue
                bad = _imported_apps(path) & above
                if bad:
                    offences.append(f"{path.relative_to(base)} imports {sorted(bad)}")
        self.assertEqual(offences, [])
