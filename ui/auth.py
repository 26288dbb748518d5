"""Who is using the app: sign-in, the sidebar's user box, and money masking for viewers.

Three modes, decided on every run (so a role change or deactivation takes effect at once):

- OIDC: Streamlit secrets have an ``[auth]`` section. The user signs in with ``st.login()``;
  the e-mail (else the name) of ``st.user`` must be an active account in ``users``.
- Local accounts: the ``users`` table has accounts. A form asks for user name and password,
  checked by `core.users.authenticate`.
- No accounts at all: the session is the single local admin, labelled as such in the sidebar.

Signed in, ``st.session_state["user_name"]`` and ``["role"]`` say who and with which role;
pages and colleagues' code rely on exactly these keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

from core.auth import can, is_money_column, money_columns
from core.users import LOCAL_ADMIN, account_for, authenticate, has_accounts, role_of
from ui.state import get_store, user_errors

if TYPE_CHECKING:
    import pandas as pd

#: What a viewer sees in place of a money value.
MASKED = "masked"

#: Password guessing: after this many failed sign-ins of one name within the window, that name
#: must wait for the window to pass (per server process; a success clears the count).
MAX_FAILED_SIGN_INS = 5
FAILED_SIGN_IN_WINDOW_S = 300.0


@st.cache_resource(show_spinner=False)
def _failed_sign_ins() -> dict[str, list[float]]:
    """User name (lower case) -> times of its recent failed sign-ins, shared by the process's sessions."""
    return {}


def _recent_failures(name: str) -> list[float]:
    import time

    now = time.monotonic()
    recent = [t for t in _failed_sign_ins().get(name.lower(), []) if now - t < FAILED_SIGN_IN_WINDOW_S]
    _failed_sign_ins()[name.lower()] = recent
    return recent


def oidc_configured() -> bool:
    """Whether secrets configure OIDC sign-in (an ``[auth]`` section); no secrets file means no."""
    try:
        return "auth" in st.secrets
    except Exception:   # no secrets.toml at all: Streamlit raises rather than answer False
        return False


def _set_user(name: str, role: str, mode: str) -> None:
    st.session_state["user_name"] = name
    st.session_state["role"] = role
    st.session_state["sign_in_mode"] = mode


def _clear_user() -> None:
    for key in ("user_name", "role", "sign_in_mode"):
        st.session_state.pop(key, None)


def _oidc_claims() -> tuple[str | None, ...]:
    """The signed-in identity's e-mail, then the names an account may be known by."""
    user: Any = st.user
    return tuple(user.get(claim) for claim in ("email", "preferred_username", "name"))


def signed_in() -> bool:
    """Settle who the session is for; True when it may see the app (sets user_name and role)."""
    with user_errors():   # a database that cannot be opened is shown, not a traceback
        store = get_store()
        accounts = has_accounts(store)
    if not accounts:
        _set_user(LOCAL_ADMIN, "admin", "local")
        return True
    name = st.session_state.get("user_name")
    if name and name != LOCAL_ADMIN:
        role = role_of(store, name)      # deactivated or removed from users since: signed out
        if role is not None:
            st.session_state["role"] = role
            return True
    _clear_user()
    if oidc_configured() and getattr(st.user, "is_logged_in", False):
        account = account_for(store, *_oidc_claims())
        if account is not None:
            _set_user(account.user_name, account.role, "oidc")
            return True
    return False


def sign_in_page() -> None:
    """The only page until the user is signed in."""
    st.title("segplan")
    if oidc_configured():
        _oidc_sign_in()
    else:
        _password_sign_in()


def _oidc_sign_in() -> None:
    if getattr(st.user, "is_logged_in", False):
        who = next((c for c in _oidc_claims() if c), "this identity")
        st.error(f"**{who} has no active segplan account.**\n\nAsk an admin to create one "
                 f"(`segplan user add {who} --role viewer --no-password --by ADMIN`).", icon=":material/person_off:")
        if st.button("Sign out", icon=":material/logout:"):
            st.logout()
        return
    st.write("Sign in with your organisation's account.")
    if st.button("Sign in", type="primary", icon=":material/login:"):
        st.login()


def _password_sign_in() -> None:
    st.write("Sign in with your segplan account.")
    with st.form("sign_in", enter_to_submit=True):
        name = st.text_input("User name", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    import time

    if len(_recent_failures(name.strip())) >= MAX_FAILED_SIGN_INS:
        st.error(f"**Too many failed sign-ins for {name.strip()!r}.**\n\nWait {FAILED_SIGN_IN_WINDOW_S / 60:.0f} "
                 "minutes and try again, or ask an admin.", icon=":material/lock_clock:")
        return
    with user_errors():
        role = authenticate(get_store(), name, password)
    if role is None:
        _recent_failures(name.strip()).append(time.monotonic())
        # one message for unknown name, wrong password and deactivated account: no hint to a guesser
        st.error("**Wrong user name or password, or the account is deactivated.**\n\n"
                 "Try again, or ask an admin (`segplan user list`).", icon=":material/lock:")
        return
    _failed_sign_ins().pop(name.strip().lower(), None)
    _set_user(name.strip(), role, "password")
    st.rerun()


def user_box() -> None:
    """The sidebar's who-am-I: user and role with a sign-out button, or the local-admin label."""
    if st.session_state.get("sign_in_mode") == "local":
        st.sidebar.info("**Local admin** — no accounts; create them with `segplan user add`",
                        icon=":material/admin_panel_settings:")
        return
    st.sidebar.markdown(f"Signed in as **{st.session_state['user_name']}** ({st.session_state['role']})")
    if st.sidebar.button("Sign out", icon=":material/logout:", key="sign_out"):
        mode = st.session_state.get("sign_in_mode")
        _clear_user()
        if mode == "oidc":
            st.logout()
        st.rerun()


# -- money -----------------------------------------------------------------------------------
def can_see_money() -> bool:
    """Whether the signed-in role sees revenue, margin and cost (viewers do not)."""
    return can(st.session_state.get("role", "admin"), "see_money")


def mask_money(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as the role may see it: money columns read ``masked`` for roles without see_money."""
    if can_see_money():
        return frame
    hidden = money_columns(frame.columns)
    if not hidden:
        return frame
    return frame.assign(**{column: MASKED for column in hidden})


def masked_config(config: dict[str, Any]) -> dict[str, Any]:
    """A dataframe's column_config for the role: masked money columns become text columns (same label)."""
    if can_see_money():
        return config
    shown = dict(config)
    for column in money_columns(config):
        setting = config[column]
        if setting is None:
            continue
        label = setting.get("label") if isinstance(setting, dict) else setting
        shown[column] = st.column_config.TextColumn(label or column)
    return shown


def mask_money_rows(frame: pd.DataFrame, name_column: str, value_columns: list[str]) -> pd.DataFrame:
    """For long tables (feature, value): the value columns of rows naming a money column read ``masked``."""
    if can_see_money() or frame.empty:
        return frame
    rows = frame[name_column].map(is_money_column).astype(bool)
    shown = frame.astype({column: object for column in value_columns})
    shown.loc[rows, value_columns] = MASKED
    return shown


def money_text(text: str) -> str:
    """A money figure (a metric's value or change) as the role may see it."""
    return text if can_see_money() else MASKED


def deny_page(title: str, action: str) -> None:
    """What a role sees when it opens (by link or address) a page it may not use."""
    st.title(title)
    require_page(action)


def require_page(action: str) -> None:
    """Stop a page the signed-in role may not use, saying which role it needs (call after ensure_entry).

    app.py already keeps such pages out of the navigation and refuses them; this covers a page
    run on its own (a deep link before the navigation exists, AppTest's switch_page).
    """
    from core.auth import require_role

    with user_errors():
        require_role(st.session_state.get("user_name", LOCAL_ADMIN), st.session_state.get("role"), action)
