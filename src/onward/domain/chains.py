"""
Plan chains: which plans start after which, and the cycles a chain must not have.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def find_cycle(
    start: str, chain_of: Callable[[str], Sequence[str]]
) -> list[str] | None:
    """Return a chain cycle through plans reachable from ``start``, if any.

    ``chain_of(name)`` gives a plan's chained plans (empty for unknown plans).
    The cycle is returned as names, first repeated last: ``[a, b, a]``.
    """
    path: list[str] = []
    on_path: set[str] = set()
    done: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in on_path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        path.append(name)
        on_path.add(name)
        for child in chain_of(name):
            cycle = visit(child)
            if cycle is not None:
                return cycle
        path.pop()
        on_path.discard(name)
        done.add(name)
        return None

    return visit(start)
