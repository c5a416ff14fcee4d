"""One convention for logger names: a module logs through `logging.getLogger(__name__)`, so the
JSON line's `logger` field names the module (receiver.app, projector.consumer, ...) and
a filter or level set on a package's logger ("receiver", "projector") still applies by hierarchy."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services"


def named_loggers() -> dict[str, str]:
    """Each module-level `x = logging.getLogger(...)`: module path -> its argument's source."""
    found = {}
    for path in sorted(SERVICES.rglob("*.py")):
        for node in ast.parse(path.read_text(), str(path)).body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and ast.unparse(node.value.func) == "logging.getLogger"
            ):
                where = path.relative_to(SERVICES).as_posix()
                found[where] = ", ".join(ast.unparse(arg) for arg in node.value.args)
    return found


def test_every_module_logger_is_named_after_its_module() -> None:
    loggers = named_loggers()
    assert "receiver/intake_flow.py" in loggers  # the walk finds them
    assert {where: name for where, name in loggers.items() if name != "__name__"} == {}
