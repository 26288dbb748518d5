"""Who may do what: the four roles and the actions each may take.

The matrix is the one place a permission is decided; pages (navigation per role) and
commands both ask `can` / `require`. Roles are cumulative: each holds the rights of the one
before it, except that approving is the approver's and admin's alone.
"""

from __future__ import annotations

from core.errors import SegplanError

ROLES: tuple[str, ...] = ("viewer", "planner", "approver", "admin")

#: action -> roles allowed to take it.
PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset(ROLES),
    "see_money": frozenset({"planner", "approver", "admin"}),   # margin, revenue, cost unmasked
    "export_approved": frozenset(ROLES),
    "ingest": frozenset({"planner", "admin"}),
    "segment": frozenset({"planner", "admin"}),                 # run and save versions, rename segments
    "override": frozenset({"planner", "admin"}),
    "edit_policy": frozenset({"planner", "admin"}),
    "submit": frozenset({"planner", "admin"}),
    "approve": frozenset({"approver", "admin"}),               # approve, reject, restore
    "export_draft": frozenset({"planner", "approver", "admin"}),
    "view_audit": frozenset({"approver", "admin"}),
    "manage_users": frozenset({"admin"}),
}


def check_role(role: str) -> str:
    if role not in ROLES:
        raise SegplanError(f"unknown role {role!r}", hint="choose one of: " + ", ".join(ROLES))
    return role


def can(role: str | None, action: str) -> bool:
    """Whether ``role`` may take ``action`` (an unknown action is a programming error)."""
    if action not in PERMISSIONS:
        raise KeyError(f"unknown action {action!r}")
    return role in PERMISSIONS[action]


def require_role(user_name: str, role: str | None, action: str) -> None:
    """Raise a `SegplanError` naming the user, role and action when the role may not take it."""
    if not can(role, action):
        allowed = ", ".join(r for r in ROLES if r in PERMISSIONS[action])
        raise SegplanError(
            f"{user_name} ({role or 'no account'}) may not {action.replace('_', ' ')}",
            hint=f"this needs the role: {allowed}",
        )
