"""Sign-in, navigation per role, money masking, and the Users and Audit pages, through AppTest.

With no accounts the app runs as the local admin (what every other page test relies on); with
accounts only the sign-in page shows until a user signs in with name and password.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.audit import audit_trail
from core.store import Store
from core.users import LOCAL_ADMIN, add_user, list_users, role_of
from core.versions import run_segmentation
from page_data import fill_small_database
from page_support import (  # noqa: F401  (fixtures)
    APP, by_label, click, empty_db, loaded_db, no_exception, open_page, use_copy,
)

PASSWORDS = {"root": "root-pw", "alice": "alice-pw", "vic": "vic-pw", "anna": "anna-pw"}
ROLES = {"root": "admin", "alice": "planner", "vic": "viewer", "anna": "approver"}


@pytest.fixture(autouse=True)
def runs_through_the_entry_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run goes through app.py, as in a served app once st.navigation has run.

    AppTest resets PagesManager.uses_pages_directory before each run, and with a pages/ folder
    that means the old multipage mode: a rerun after the first runs the page file alone, so
    sign-in, sign-out and the navigation would not be exercised.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def page_titles(at: AppTest) -> list[str]:
    """The titles the navigation lists (app.py keeps them in session state; pages the role may
    not use are registered hidden, so links to them resolve and refuse)."""
    return list(at.session_state["nav_pages"])


def sidebar_text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.sidebar.markdown] + [i.value for i in at.sidebar.info])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Orders and one saved product version; accounts for each role."""
    path = tmp_path_factory.mktemp("governance") / "accounts.duckdb"
    with Store(path) as store:
        fill_small_database(store)
        run_segmentation(store, "product", "abc_xyz", user="alice")
        add_user(store, "root", "admin", PASSWORDS["root"], by=None)
        for name in ("alice", "vic", "anna"):
            add_user(store, name, ROLES[name], PASSWORDS[name], by="root")
    return path


@pytest.fixture
def accounts_db(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_copy(template, tmp_path, monkeypatch)


def sign_in(name: str, password: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    no_exception(at)
    inputs = {t.label: t for t in at.text_input}
    inputs["User name"].input(name)
    inputs["Password"].input(PASSWORDS.get(name, "") if password is None else password)
    at.button[0].click().run()
    no_exception(at)
    return at


# -- no accounts --------------------------------------------------------------------------------
def test_without_accounts_everyone_is_the_labelled_local_admin_with_every_page(loaded_db):
    at = open_page()
    assert at.session_state["user_name"] == LOCAL_ADMIN and at.session_state["role"] == "admin"
    assert "Local admin" in sidebar_text(at) and "segplan user add" in sidebar_text(at)
    titles = page_titles(at)
    assert {"Home", "Data", "Explore", "Segment", "Explain", "Policies", "Users", "Audit"} <= set(titles)
    assert "Sign out" not in [b.label for b in at.sidebar.button]


# -- sign-in --------------------------------------------------------------------------------------
def test_with_accounts_only_the_sign_in_form_shows(accounts_db):
    at = open_page()
    assert page_titles(at) == ["Sign in"]
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert at.text_input[1].proto.type == at.text_input[1].proto.PASSWORD
    assert [b.label for b in at.button] == ["Sign in"]
    assert "user_name" not in at.session_state


@pytest.mark.parametrize("name, password", [("alice", "wrong"), ("nobody", "alice-pw"), ("alice", "")])
def test_a_wrong_password_or_unknown_name_gets_one_message_and_no_pages(accounts_db, name, password):
    at = sign_in(name, password)
    assert "Wrong user name or password" in at.error[0].value
    assert page_titles(at) == ["Sign in"]
    assert "user_name" not in at.session_state


def test_a_deactivated_account_cannot_sign_in(accounts_db):
    from core.users import deactivate

    with Store(accounts_db) as store:
        deactivate(store, "alice", by="root")
    at = sign_in("alice")
    assert "Wrong user name or password" in at.error[0].value


def test_a_planner_signs_in_and_sees_the_planner_pages(accounts_db):
    at = sign_in("alice")
    assert (at.session_state["user_name"], at.session_state["role"]) == ("alice", "planner")
    assert "Signed in as **alice** (planner)" in sidebar_text(at)
    titles = page_titles(at)
    assert {"Home", "Data", "Explore", "Segment", "Explain", "Policies"} <= set(titles)
    assert "Users" not in titles and "Audit" not in titles


def test_a_viewer_sees_no_data_users_or_audit_and_cannot_switch_to_them(accounts_db):
    at = sign_in("vic")
    titles = page_titles(at)
    assert {"Home", "Explore", "Segment", "Explain", "Policies"} <= set(titles)
    assert not {"Data", "Users", "Audit"} & set(titles)
    for page, action in (("pages/users.py", "manage users"), ("pages/audit.py", "view audit"), ("pages/data.py", "ingest")):
        at.switch_page(page).run()                    # a deep link: the page refuses, naming the role it needs
        no_exception(at)
        assert f"vic (viewer) may not {action}" in at.error[0].value
        assert not at.get("file_uploader") and not at.dataframe


def test_an_approver_sees_audit_but_not_users(accounts_db):
    titles = page_titles(sign_in("anna"))
    assert "Audit" in titles and "Users" not in titles and "Data" not in titles


def test_sign_out_returns_to_the_sign_in_page(accounts_db):
    at = sign_in("alice")
    at.sidebar.button(key="sign_out").click().run()
    no_exception(at)
    assert page_titles(at) == ["Sign in"]
    assert "user_name" not in at.session_state


def test_a_role_change_takes_effect_at_the_next_run(accounts_db):
    from core.users import set_role

    at = sign_in("alice")
    with Store(accounts_db) as store:
        set_role(store, "alice", "viewer", by="root")
    at.run()
    assert at.session_state["role"] == "viewer"
    assert "Data" not in page_titles(at)


# -- money ------------------------------------------------------------------------------------------
def test_a_viewer_sees_money_masked_on_explore_and_a_planner_sees_it(accounts_db):
    viewer = sign_in("vic")
    viewer.switch_page("pages/explore.py").run()
    no_exception(viewer)
    table = viewer.dataframe[-1].value
    assert "revenue" in table.columns
    assert (table["revenue"] == "masked").all()
    assert [c for c in table.columns if c in ("revenue", "margin", "cost") and (table[c] != "masked").any()] == []
    assert table["cv"].dtype.kind == "f" and table["cumulative_share"].dtype.kind == "f"   # not money: shown

    planner = sign_in("alice")
    planner.switch_page("pages/explore.py").run()
    revenue = planner.dataframe[-1].value["revenue"]
    assert revenue.dtype.kind == "f" and revenue.sum() > 0


def test_a_viewer_sees_stock_values_and_unit_costs_masked_on_policies(accounts_db):
    at = sign_in("vic")
    at.switch_page("pages/policies.py").run()
    no_exception(at)
    frames = [d.value for d in at.dataframe]
    money_cells = [frame[column] for frame in frames for column in frame.columns
                   if column in ("inventory_value", "safety_stock_value", "unit_cost", "inventory_value_a")]
    assert money_cells, "the policy tables show stock values"
    assert all((cells == "masked").all() for cells in money_cells)
    assert {m.label: m.value for m in at.metric}["Inventory investment (all segments)"] == "masked"


def test_a_viewer_sees_segment_profiles_with_money_medians_masked(accounts_db):
    at = sign_in("vic")
    at.switch_page("pages/segment.py").run()
    no_exception(at)
    profiles = next(d.value for d in at.dataframe if "median_revenue" in d.value.columns)
    assert (profiles["median_revenue"] == "masked").all()


# -- the Users and Audit pages ----------------------------------------------------------------------
def test_an_admin_adds_changes_and_deactivates_accounts_on_the_users_page(accounts_db):
    at = sign_in("root")
    assert {"Users", "Audit"} <= set(page_titles(at))
    at.switch_page("pages/users.py").run()
    no_exception(at)
    assert at.title[0].value == "Users"
    shown = at.dataframe[0].value
    assert set(shown["user_name"]) == {"root", "alice", "vic", "anna"}
    assert "password_hash" not in shown.columns

    fields = {t.label: t for t in at.text_input}
    fields["New user name"].input("bea")
    role_box = by_label(at.selectbox, "Role")
    role_box.set_value("approver")
    fields["Password"].input("bea-pw")
    fields["Password again"].input("bea-pw")
    by_label(at.button, "Add account").click().run()
    no_exception(at)
    assert "Account **bea** (approver) created." in at.success[0].value

    by_label(at.selectbox, "Account").set_value("alice").run()
    by_label(at.selectbox, "New role").set_value("viewer").run()
    by_label(at.text_input, "Why (kept in the audit trail)").input("moved to sales")
    by_label(at.button, "Change role").click().run()
    no_exception(at)
    by_label(at.selectbox, "Account").set_value("vic").run()
    by_label(at.button, "Deactivate").click().run()
    no_exception(at)

    with Store(accounts_db) as store:
        assert role_of(store, "bea") == "approver" and role_of(store, "alice") == "viewer"
        assert not list_users(store).set_index("user_name").loc["vic", "active"]
        trail = audit_trail(store)
    mine = trail[trail["user_name"] == "root"].tail(3)
    assert mine["action"].tolist() == ["user_add", "user_role", "user_deactivate"]
    assert mine["reason"].tolist()[1] == "moved to sales"


def test_the_users_page_shows_the_last_admin_refusal(accounts_db):
    at = sign_in("root")
    at.switch_page("pages/users.py").run()
    by_label(at.selectbox, "Account").set_value("root").run()
    by_label(at.button, "Deactivate").click().run()
    no_exception(at)
    assert "root is the last active admin and cannot be deactivated" in at.error[0].value


def test_the_audit_page_lists_events_newest_first_with_the_chain_check(accounts_db):
    at = sign_in("root")
    at.switch_page("pages/audit.py").run()
    no_exception(at)
    assert at.title[0].value == "Audit"
    assert "Hash chain intact" in at.success[0].value
    events = at.dataframe[0].value
    assert events["event_id"].is_monotonic_decreasing
    assert "role: planner" in events.loc[events["entity_id"] == "alice", "after"].iloc[0]    # JSON made readable
    assert events["action"].iloc[0] == "user_add" and events["action"].iloc[-1] == "run"
    assert len(at.get("download_button")) == 1

    by_label(at.sidebar.selectbox, "Action").set_value("run").run()
    assert at.dataframe[0].value["action"].tolist() == ["run"]


def test_the_audit_page_shows_a_broken_chain(accounts_db):
    with Store(accounts_db) as store, store.transaction() as cur:
        cur.execute("UPDATE audit_log SET reason = 'edited by hand' WHERE event_id = 2")
    at = sign_in("root")
    at.switch_page("pages/audit.py").run()
    no_exception(at)
    assert "Hash chain broken at event 2" in at.error[0].value


def test_the_audit_page_on_an_empty_trail_says_so(empty_db):
    at = open_page("pages/audit.py")
    assert "No events yet" in at.info[0].value


# -- OIDC (secrets have an [auth] section) --------------------------------------------------------
OIDC_SECRETS = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test",
                         "client_id": "segplan", "client_secret": "test",
                         "server_metadata_url": "https://idp.example.org/.well-known/openid-configuration"}}


def oidc_app(identity: dict) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets = OIDC_SECRETS
    at.user = identity
    return at.run()


def test_with_oidc_the_sign_in_page_offers_the_identity_provider_not_a_password(accounts_db):
    at = oidc_app({"is_logged_in": False})
    no_exception(at)
    assert page_titles(at) == ["Sign in"]
    assert at.text_input == []
    assert [b.label for b in at.button] == ["Sign in"]


def test_an_oidc_identity_is_mapped_to_its_account_by_e_mail(accounts_db):
    with Store(accounts_db) as store:
        add_user(store, "Olga@Example.org", "approver", None, by="root")
    at = oidc_app({"is_logged_in": True, "email": "olga@example.org", "name": "Olga K"})
    no_exception(at)
    assert (at.session_state["user_name"], at.session_state["role"]) == ("Olga@Example.org", "approver")
    assert "Signed in as **Olga@Example.org** (approver)" in sidebar_text(at)
    assert "Audit" in page_titles(at) and "Users" not in page_titles(at)


def test_an_unknown_oidc_identity_is_told_to_ask_an_admin(accounts_db):
    at = oidc_app({"is_logged_in": True, "email": "stranger@example.org"})
    no_exception(at)
    assert page_titles(at) == ["Sign in"]
    assert "stranger@example.org has no active segplan account" in at.error[0].value
    assert "Ask an admin" in at.error[0].value
    assert "user_name" not in at.session_state


def test_a_viewer_cannot_save_a_segmentation_from_the_segment_page(accounts_db):
    at = sign_in("vic")
    at.switch_page("pages/segment.py").run()
    no_exception(at)
    with Store(accounts_db) as store:
        versions_before = store.cursor().execute("SELECT count(*) FROM segment_versions").fetchone()[0]
    click(at, "Save as version")
    assert "vic (viewer) may not segment" in at.error[0].value
    with Store(accounts_db) as store:
        assert store.cursor().execute("SELECT count(*) FROM segment_versions").fetchone()[0] == versions_before
        assert audit_trail(store, action="run")["user_name"].tolist() == ["alice"]


def test_a_planner_saves_a_segmentation_under_their_own_name(accounts_db):
    at = sign_in("alice")
    at.switch_page("pages/segment.py").run()
    click(at, "Save as version")
    assert "Saved as version 2" in at.success[0].value
    with Store(accounts_db) as store:
        runs = audit_trail(store, action="run")
    assert runs["user_name"].tolist() == ["alice", "alice"] and runs["entity_id"].tolist() == ["1", "2"]


def test_repeated_wrong_passwords_lock_that_name_for_a_while(accounts_db):
    from ui.auth import MAX_FAILED_SIGN_INS, _failed_sign_ins

    _failed_sign_ins().clear()
    try:
        at = AppTest.from_file(str(APP), default_timeout=60).run()
        for _ in range(MAX_FAILED_SIGN_INS):
            at.text_input[0].input("anna")
            at.text_input[1].input("guess")
            at.button[0].click().run()
            assert "Wrong user name or password" in at.error[0].value
        at.text_input[0].input("anna")
        at.text_input[1].input(PASSWORDS["anna"])       # even the right password waits now
        at.button[0].click().run()
        no_exception(at)
        assert "Too many failed sign-ins for 'anna'" in at.error[0].value
        assert "user_name" not in at.session_state
        assert sign_in("alice").session_state["user_name"] == "alice"   # other names are not held up
    finally:
        _failed_sign_ins().clear()
