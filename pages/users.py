"""Users: the accounts, their roles, and the admin's changes (add, change role, deactivate)."""

import streamlit as st

from core.auth import ROLES
from core.users import add_user, deactivate, has_accounts, list_users, set_role
from ui.auth import require_page
from ui.state import ensure_entry, get_store, user_errors

ensure_entry()
require_page("manage_users")

st.title("Users")
st.caption("Who may sign in and with which role. Accounts are deactivated, never deleted: the audit "
           "trail names them. Every change is recorded on the Audit page.")

store = get_store()
admin = st.session_state.get("user_name")

with user_errors():
    accounts = list_users(store)

if accounts.empty:
    st.info("**No accounts yet**: you are the local admin and everyone who opens the app is too. Create the "
            "first account below; it must be an admin, and from then on everyone signs in.",
            icon=":material/info:")
else:
    st.dataframe(accounts, hide_index=True, width="stretch", column_config={
        "user_name": "User name", "role": "Role", "active": "Active",
        "has_password": st.column_config.CheckboxColumn("Password", help="Off: signs in through OIDC only"),
        "created_at": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm"),
        "created_by": "Created by"})

left, right = st.columns(2)
with left:
    st.subheader("Add an account")
    with st.form("add_user", clear_on_submit=True):
        name = st.text_input("New user name", help="Letters, digits and . _ @ + - ; an e-mail address for OIDC.")
        first = not has_accounts(store)
        role = st.selectbox("Role", ROLES, index=ROLES.index("admin") if first else 0,
                            help="The first account must be an admin.")
        password = st.text_input("Password", type="password", help="Leave empty for an OIDC-only account.")
        confirm = st.text_input("Password again", type="password")
        submitted = st.form_submit_button("Add account", type="primary")
    if submitted:
        if password != confirm:
            st.error("**The two passwords differ.** Type the same password twice.", icon=":material/error:")
        else:
            with user_errors(stop=False):
                account = add_user(store, name, role, password or None, by=admin)
                st.success(f"Account **{account.user_name}** ({account.role}) created.", icon=":material/check:")
                if first:
                    st.info("Accounts exist now: sign in with the new account.", icon=":material/login:")
                    st.button("Go to sign-in")

active = accounts[accounts["active"]] if not accounts.empty else accounts
with right:
    st.subheader("Change an account")
    if active.empty:
        st.caption("No active accounts to change.")
    else:
        target = st.selectbox("Account", active["user_name"].tolist())
        current = str(active.loc[active["user_name"] == target, "role"].iloc[0])
        new_role = st.selectbox("New role", ROLES, index=ROLES.index(current))
        reason = st.text_input("Why (kept in the audit trail)")
        change, stop = st.columns(2)
        if change.button("Change role", disabled=new_role == current):
            with user_errors(stop=False):
                set_role(store, target, new_role, by=admin, reason=reason or None)
                st.rerun()
        if stop.button("Deactivate", type="secondary"):
            with user_errors(stop=False):
                deactivate(store, target, by=admin, reason=reason or None)
                st.rerun()
