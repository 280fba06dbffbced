"""The "Open in console" link: a configurable URL template filled with quoted ids.

>>> console_link("https://console.example/aom/{workflow_id}/{execution_id}?region={region}",
...              region="cn-north-4", project_id="p", workflow_id="w 1", execution_id="e1")
'https://console.example/aom/w%201/e1?region=cn-north-4'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from string import Formatter
from urllib.parse import quote

from aom_bot.errors import ConsoleTemplateError

__all__ = [
    "PLACEHOLDERS",
    "ConsoleLinks",
    "ConsoleTemplateError",
    "ConsoleUrl",
    "console_link",
    "validate_console_template",
]

#: workflow ID, execution ID → the execution's console URL, or None (no button)
ConsoleUrl = Callable[[str, str], str | None]

#: the placeholders a console URL template may use
PLACEHOLDERS: frozenset[str] = frozenset({"region", "project_id", "workflow_id", "execution_id"})


def validate_console_template(template: str) -> None:
    """Raise :class:`ConsoleTemplateError` unless ``template`` is usable; "" is (no link)."""
    if not template:
        return
    hint = "Placeholders: {" + "}, {".join(sorted(PLACEHOLDERS)) + "}."
    if not template.startswith(("https://", "http://")):
        raise ConsoleTemplateError(
            "The console URL template must start with https:// or http://.", hint=hint
        )
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as exc:
        raise ConsoleTemplateError(
            f"The console URL template is malformed: {exc}.", hint=hint
        ) from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            raise ConsoleTemplateError(
                f"The console URL template uses an unknown placeholder {{{field}}}.", hint=hint
            )


def console_link(
    template: str | None, *, region: str, project_id: str, workflow_id: str, execution_id: str
) -> str | None:
    """The console URL for one execution, or None when no template is configured."""
    if not template:
        return None
    validate_console_template(template)
    values = {
        "region": region,
        "project_id": project_id,
        "workflow_id": workflow_id,
        "execution_id": execution_id,
    }
    return template.format(**{k: quote(v, safe="") for k, v in values.items()})


@dataclass(frozen=True, slots=True)
class ConsoleLinks:
    """The console links of one AOM project: the ``AOM_CONSOLE_URL`` template and what fills it.

    Checked when made, so a broken template fails where it is configured, not on a card. Call it
    with a workflow and an execution ID (it is a :data:`ConsoleUrl`).

    >>> ConsoleLinks("https://c.example/{workflow_id}/{execution_id}")("w1", "e1")
    'https://c.example/w1/e1'
    """

    template: str | None = None
    region: str = ""
    project_id: str = ""

    def __post_init__(self) -> None:
        validate_console_template(self.template or "")

    def __call__(self, workflow_id: str, execution_id: str) -> str | None:
        return console_link(
            self.template,
            region=self.region,
            project_id=self.project_id,
            workflow_id=workflow_id,
            execution_id=execution_id,
        )
