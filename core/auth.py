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


#: Money columns that roles without ``see_money`` (viewers) see masked, by exact name.
MONEY_COLUMNS: frozenset[str] = frozenset({
    "revenue", "gross_revenue", "net_amount", "cost", "cost_amount", "margin", "margin_pct", "gross_margin",
    "unit_price", "unit_cost", "average_order_value", "cost_to_serve", "profit", "net_profit", "subsidy",
    "rate", "ordering_cost",
})
#: Words that make any other column a money column (``safety_stock_value``, ``revenue_share`` ...).
MONEY_WORDS: frozenset[str] = frozenset({"revenue", "cost", "costs", "margin", "price", "profit", "amount", "value"})


def is_money_column(name: object) -> bool:
    """Whether a column holds money: a name in MONEY_COLUMNS, or one of MONEY_WORDS as a word of it.

    A column named just ``value`` (a feature's value in a long table) is not money by itself:
    the rows say which feature it is (mask those rows, not the column).
    """
    text = str(name).lower()
    return text in MONEY_COLUMNS or (text != "value" and bool(MONEY_WORDS.intersection(text.split("_"))))


def money_columns(columns: object) -> list[str]:
    """The money columns among ``columns``, in their order."""
    return [column for column in columns if is_money_column(column)]  # type: ignore[attr-defined]
