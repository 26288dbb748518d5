"""Maker-checker in a real browser, two users at once: the planner pat signs in and submits version 1 in one
browser context, the approver anna signs in in another and approves it, and both then see it in force;
anna downloads the approved assignments CSV.

This module starts its own server over the small page database with accounts (made with
core.users.add_user before the server starts) and one product version.
"""

from __future__ import annotations

import re

import pytest

from browser_support import app_url_over, browser, settle, shown_exceptions  # noqa: F401  (fixtures)
from core.store import Store
from core.users import add_user
from core.versions import run_segmentation
from page_data import fill_small_database

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


def fill_with_accounts(store: Store) -> None:
    """The small page database with accounts ada (admin), pat (planner), anna (approver) and version 1
    (product, ABC x XYZ); only the server opens the file from here on."""
    fill_small_database(store)
    run_segmentation(store, "product", "abc_xyz", user="pat")
    add_user(store, "ada", "admin", PASSWORD, by=None)
    add_user(store, "pat", "planner", PASSWORD, by="ada")
    add_user(store, "anna", "approver", PASSWORD, by="ada")


app_url = app_url_over(fill_with_accounts, "browser_approval")


def signed_in(browser, app_url: str, user: str):
    """A browser context of its own (its own session), signed in as ``user``, on the Approvals page."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app_url)
    settle(page)
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    settle(page)
    page.get_by_text(f"Signed in as {user}").wait_for()
    open_approvals(page)
    return context, page


def open_approvals(page) -> None:
    """Through the navigation (a reload would start a new, signed-out session)."""
    page.get_by_role("link", name="Approvals").click()
    settle(page)
    page.get_by_role("heading", name="Approvals", exact=True).wait_for()


def test_planner_submits_and_another_user_approves_both_see_it(browser, app_url, tmp_path):
    planner_context, planner = signed_in(browser, app_url, "pat")
    approver_context, approver = signed_in(browser, app_url, "anna")
    try:
        page_text = planner.locator('[data-testid="stMain"]')
        page_text.get_by_text("No product version is in force yet").wait_for()
        assert approver.get_by_role("button", name="Submit for approval").count() == 0  # not an approver's step

        with planner.expect_download() as draft:   # before approval: only as a draft
            planner.get_by_role("button", name="Assignments CSV (DRAFT)").click()
        assert draft.value.suggested_filename == "assignments_v1_DRAFT.csv"
        draft_file = tmp_path / "draft.csv"
        draft.value.save_as(draft_file)
        assert all(",draft,True,," in line for line in draft_file.read_text().splitlines()[1:])

        planner.get_by_label("Note for the approver (optional)").fill("ready for S&OP")
        planner.get_by_role("button", name="Submit for approval").click()
        settle(planner)
        planner.get_by_text("Version 1 submitted for approval.").wait_for()
        planner.get_by_text("Waiting for an approver").wait_for()

        open_approvals(approver)   # anna's page runs again: the submission shows
        approver.get_by_text("Submitted by pat").wait_for()
        approver.get_by_label("Reason (required to reject)").fill("matches the S&OP plan")
        approver.get_by_role("button", name="Approve").click()
        settle(approver)
        approver.get_by_text("Version 1 approved: it is now in force.").wait_for()
        approver.get_by_text(re.compile(r"In force: version 1, approved by anna")).wait_for()

        open_approvals(planner)    # and pat's, in the other context
        planner.get_by_text(re.compile(r"In force: version 1, approved by anna")).wait_for()
        assert planner.get_by_role("button", name="Approve").count() == 0

        with approver.expect_download() as download:
            approver.get_by_role("button", name="Assignments CSV", exact=True).click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.name == "assignments_v1.csv"
        lines = saved.read_text().splitlines()
        assert lines[0].startswith("product_id,segment,segment_label,model_segment")
        assert len(lines) == 7 and all(",approved,False,anna," in line for line in lines[1:])
        for page in (planner, approver):
            assert shown_exceptions(page) == []
        planner.screenshot(path=str(tmp_path / "planner.png"), full_page=True)
    finally:
        planner_context.close()
        approver_context.close()
