"""
Step actions: the Action port, the catalog of installed actions and input templating.

Built-in kinds: ``shell``, ``http``, ``python``, ``sleep``, ``noop`` and
``approval``; plugins register more through the ``onward.actions`` entry-point
group.
"""

from __future__ import annotations

from onward.actions.base import Action, ActionContext, ActionResult
from onward.actions.catalog import ActionCatalog
from onward.actions.templating import TemplateRenderError, render_inputs

__all__ = [
    "Action",
    "ActionCatalog",
    "ActionContext",
    "ActionResult",
    "TemplateRenderError",
    "render_inputs",
]
