"""Levels of a reference graph: level 0 holds the files that refer to none of the others,
level n the files whose references are all in lower levels. No Flask, no boto3.

A cycle (a.css imports b.css imports a.css) has no such order: its files share one level
(the level after everything the cycle refers to), and the cycle is returned for a warning.
"""

from __future__ import annotations

from collections.abc import Mapping, Set


def levels(deps: Mapping[str, Set[str]]) -> tuple[list[list[str]], list[list[str]]]:
    """The nodes of ``deps`` (node -> the nodes it refers to; others are ignored) in
    levels, each sorted; and the cycles found (each sorted)."""
    level: dict[str, int] = {}
    cycles: list[list[str]] = []
    for group in _components(deps):
        group_set = set(group)
        outside = {dep for node in group for dep in deps[node] if dep in deps} - group_set
        number = 1 + max((level[dep] for dep in outside), default=-1)
        for node in group:
            level[node] = number
        if len(group) > 1 or group[0] in deps[group[0]]:
            cycles.append(sorted(group))
    result: list[list[str]] = [[] for _ in range(1 + max(level.values(), default=-1))]
    for node in sorted(level):
        result[level[node]].append(node)
    return result, cycles


def _components(deps: Mapping[str, Set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan, without recursion), each after every
    component it refers to."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(deps):
        if root in index:
            continue
        work = [(root, iter(sorted(d for d in deps[root] if d in deps)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    found.append(_pop_component(node, stack, on_stack))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(d for d in deps[child] if d in deps))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def _pop_component(node: str, stack: list[str], on_stack: set[str]) -> list[str]:
    group: list[str] = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        group.append(member)
        if member == node:
            return sorted(group)
