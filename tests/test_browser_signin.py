"""Sign-in in a real browser: the local admin creates the first account on the Users page, the
admin signs in and creates a planner, the planner signs in, sees the planner's navigation and
signs out. The server is browser_support's (a small loaded database with no accounts at first)."""

from __future__ import annotations

import pytest

from browser_support import app_url, browser, expand_navigation, page, settle, shown_exceptions  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def nav_titles(page) -> set[str]:
    """The page titles in the sidebar navigation (each link's text is its icon's name, then the title)."""
    expand_navigation(page)
    return {text.split("\n")[-1].strip() for text in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()}


def add_account(page, name: str, role: str | None, password: str) -> None:
    """On the Users page: fill the add-account form and submit it."""
    form = page.locator('[data-testid="stForm"]')
    form.get_by_role("textbox", name="New user name").fill(name)
    if role is not None:
        form.locator('[data-testid="stSelectbox"]').click()
        page.get_by_role("option", name=role, exact=True).click()
    form.get_by_role("textbox", name="Password", exact=True).fill(password)
    form.get_by_role("textbox", name="Password again").fill(password)
    form.get_by_role("button", name="Add account").click()
    settle(page)
    page.get_by_text(f"Account {name} ({role or 'admin'}) created.").wait_for()


def sign_in(page, name: str, password: str) -> None:
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    settle(page)
    page.get_by_text(f"Signed in as {name}").wait_for()


def open_page(page, title: str) -> None:
    """Through the navigation: a reload starts a new session, which is signed out."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    settle(page)
    page.get_by_role("heading", name=title, exact=True).wait_for()


def test_first_account_then_a_planner_signs_in_sees_the_planner_pages_and_signs_out(page, app_url):
    page.goto(app_url)
    settle(page)
    assert page.get_by_text("Local admin — no accounts").is_visible()
    assert {"Users", "Audit", "Data"} <= nav_titles(page)

    # the local admin creates the first account, an admin; from then on everyone signs in
    open_page(page, "Users")
    add_account(page, "ada", None, "ada-password")
    page.get_by_role("button", name="Go to sign-in").click()
    settle(page)
    page.get_by_role("button", name="Sign in").wait_for()
    assert page.locator('[data-testid="stSidebarNav"] a').count() == 0   # one page: no navigation at all

    # a wrong password is refused with one message
    page.get_by_label("User name").fill("ada")
    page.get_by_label("Password", exact=True).fill("not it")
    page.get_by_role("button", name="Sign in").click()
    settle(page)
    page.get_by_text("Wrong user name or password").wait_for()

    sign_in(page, "ada", "ada-password")
    open_page(page, "Users")
    add_account(page, "pat", "planner", "pat-password")
    page.get_by_role("button", name="Sign out").click()
    settle(page)
    page.get_by_role("button", name="Sign in").wait_for()

    sign_in(page, "pat", "pat-password")
    assert page.get_by_text("Signed in as pat (planner)").is_visible()
    titles = nav_titles(page)
    assert {"Home", "Data", "Explore", "Segment", "Explain", "Policies"} <= titles, titles
    assert not {"Users", "Audit"} & titles, titles
    open_page(page, "Data")                      # a planner loads data
    assert shown_exceptions(page) == []

    page.get_by_role("button", name="Sign out").click()
    settle(page)
    page.get_by_role("button", name="Sign in").wait_for()
    assert page.get_by_label("User name").is_visible()
    assert not page.get_by_text("Signed in as").count()
