"""Approvals: versions per level with their state, maker-checker decisions, overrides and exports."""

import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from core.approval import LOCKED, approval_history, approve, decisions, reject, restore, submit
from core.auth import can
from core.errors import SegplanError
from core.export import FINAL_STATES, draft_name, export_version
from core.overrides import add_override, carry_over_report, key_text, overrides, withdraw_override
from core.users import LOCAL_ADMIN
from core.versions import load_version, version_in_force
from ui.controls import LEVEL_NAMES
from ui.state import ensure_entry, get_store, saved_versions, stop_with_info, user_errors

ensure_entry()

#: state -> (badge colour, icon) for st.badge
BADGES = {"draft": ("gray", ":material/edit_note:"), "submitted": ("orange", ":material/pending:"),
          "approved": ("green", ":material/verified:"), "rejected": ("red", ":material/block:"),
          "superseded": ("violet", ":material/history:")}

user = st.session_state.get("user_name", LOCAL_ADMIN)
role = st.session_state.get("role", "admin")


def done(message: str) -> None:
    """Remember the outcome for the rerun that shows the new state."""
    st.session_state["appr_flash"] = message
    st.rerun()


def when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value is not None and value == value else "-"


def blank_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as shown: times as YYYY-MM-DD HH:MM, and empty cells blank instead of "None" (display only)."""
    shown = frame.copy()
    for column in shown.columns:
        values = shown[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            shown[column] = values.dt.strftime("%Y-%m-%d %H:%M").fillna("")
        elif values.isna().any():
            shown[column] = ["" if value is None or (not isinstance(value, str) and pd.isna(value)) else
                             f"{value:.0f}" if isinstance(value, float) and value.is_integer() else str(value)
                             for value in values]
    return shown


def four_eyes(step: str) -> str:
    """Why the submitter's decision buttons are off; with no accounts, how to get a second person."""
    text = f"You submitted this version, so another approver has to {step} (maker-checker)."
    if user == LOCAL_ADMIN:
        text += (" With no accounts everyone here is the local admin: create accounts (`segplan user add`) so "
                 "that an approver can sign in, or decide from the command line as another person "
                 "(`segplan approve --version ID --user NAME`).")
    return text


def export_bytes(store, version_id: int, what: str, fmt: str, name: str, who: str) -> bytes:
    """Run the audited export into a temporary folder and hand back the file (called on download only,
    outside the page's script run: so it keeps the store in use itself)."""
    with store.in_use(), tempfile.TemporaryDirectory(prefix="segplan-export-") as folder:
        return export_version(store, version_id, what, fmt, Path(folder) / name, who).read_bytes()


st.title("Approvals")
st.caption("A segmentation version comes into force by maker-checker approval: a planner submits it, another person "
           "with the approver role approves or rejects it with a reason. One approved version per level is in "
           "force; approving a newer one supersedes it, and a superseded one can be restored. Planners can move "
           "single items to another segment (an override, with a reason) while a version is a draft. Exports for "
           "the ERP carry who approved the version and when; unapproved versions export only marked DRAFT.")

flash = st.session_state.pop("appr_flash", None)
if flash:
    st.success(flash, icon=":material/check_circle:")

with user_errors():
    store = get_store()
    versions = saved_versions()

if versions.empty:
    stop_with_info("**No saved segmentation yet.** Versions are approved here once saved: segment the items on the "
                   "Segment page and save the result as a version.",
                   ("pages/segment.py", "Segment items", ":material/hub:"))

# -- level and its versions -------------------------------------------------------------------
levels = [level for level in LEVEL_NAMES if (versions["level"] == level).any()]
level = st.segmented_control("Level", levels, default=levels[0], format_func=LEVEL_NAMES.get, key="appr_level",
                             help="Each level (product, customer, customer x product) has its own version in force.")
level = level or levels[0]
of_level = versions[versions["level"] == level].reset_index(drop=True)
with user_errors():
    in_force = version_in_force(store, level)
    decided = decisions(store, of_level["version_id"])

if in_force is None:
    st.warning(f"**No {LEVEL_NAMES[level]} version is in force yet.** Submit a version and have an approver "
               "approve it.", icon=":material/gpp_maybe:")
else:
    info = decided[in_force]
    st.success(f"**In force: version {in_force}**, approved by {info['approved_by']} on {when(info['approved_at'])}",
               icon=":material/verified:")

table = of_level.assign(
    state=of_level["status"],
    submitted_by=[decided[int(v)]["submitted_by"] for v in of_level["version_id"]],
    submitted_at=[decided[int(v)]["submitted_at"] for v in of_level["version_id"]],
    approved_by=[decided[int(v)]["approved_by"] for v in of_level["version_id"]],
    approved_at=[decided[int(v)]["approved_at"] for v in of_level["version_id"]],
)
st.dataframe(blank_missing(table[["version_id", "state", "created_at", "user_name", "method", "k", "items",
                                  "submitted_by", "submitted_at", "approved_by", "approved_at", "note"]]
                           .astype({"submitted_at": "datetime64[ns]", "approved_at": "datetime64[ns]"})),
             hide_index=True, width="stretch", key="appr_versions",
             column_config={"version_id": "version", "user_name": "saved by", "submitted_by": "submitted by",
                            "approved_by": "approved by", "created_at": "saved", "submitted_at": "submitted",
                            "approved_at": "approved"})

ids = [int(v) for v in of_level["version_id"]]
described = {int(r.version_id): f"Version {r.version_id}: {r.method}, {r.k} segments, saved {r.created_at:%Y-%m-%d %H:%M}"
             for r in of_level.itertuples()}
# the label holds nothing that changes (a state in it would show stale in the open widget)
version_id = st.selectbox("Version", ids, key=f"appr_version_{level}", format_func=described.get,
                          help="Newest first. The actions below are those your role may take on this version.")
status = str(decided[version_id]["status"])
submitted_by = decided[version_id]["submitted_by"]
colour, icon = BADGES.get(status, ("gray", None))

st.subheader(f"Version {version_id}")
st.badge(status, color=colour, icon=icon)
is_submitter = bool(submitted_by) and str(submitted_by).strip().casefold() == str(user).strip().casefold()

# -- decisions --------------------------------------------------------------------------------
actions, history = st.columns([2, 3])
with actions:
    st.markdown("**Decision**")
    if status in ("draft", "rejected"):
        if can(role, "submit"):
            with st.form("appr_submit", clear_on_submit=True):
                note = st.text_input("Note for the approver (optional)", key="appr_note")
                if st.form_submit_button("Submit for approval", type="primary", icon=":material/send:", key="appr_submit_button"):
                    with user_errors(stop=False):
                        submit(store, version_id, user, note)
                        done(f"Version {version_id} submitted for approval.")
        else:
            st.caption(f"Planners and admins submit versions; you are signed in as {user} ({role}).")
    elif status == "submitted":
        st.write(f"Submitted by **{submitted_by}** on {when(decided[version_id]['submitted_at'])}.")
        if not can(role, "approve"):
            st.caption(f"Waiting for an approver; you are signed in as {user} ({role}).")
        else:
            if is_submitter:
                st.info(four_eyes("decide"), icon=":material/group:")
            with st.form("appr_decide", clear_on_submit=True):
                reason = st.text_area("Reason (required to reject)", disabled=is_submitter, key="appr_reason")
                approve_col, reject_col = st.columns(2)
                approved = approve_col.form_submit_button("Approve", type="primary", icon=":material/verified:",
                                                          disabled=is_submitter, key="appr_approve")
                rejected = reject_col.form_submit_button("Reject", icon=":material/block:", disabled=is_submitter,
                                                         key="appr_reject")
            if approved or rejected:
                with user_errors(stop=False):
                    if approved:
                        moved = approve(store, version_id, user, reason)
                        gone = f"; version {moved.superseded} is superseded" if moved.superseded else ""
                        done(f"Version {version_id} approved: it is now in force{gone}.")
                    else:
                        reject(store, version_id, user, reason)
                        done(f"Version {version_id} rejected and sent back to {submitted_by}.")
    elif status == "superseded":
        st.write("Superseded by a newer approved version.")
        if can(role, "approve"):
            if is_submitter:
                st.info(four_eyes("restore it"), icon=":material/group:")
            with st.form("appr_restore", clear_on_submit=True):
                reason = st.text_input("Reason (required)", disabled=is_submitter, key="appr_restore_reason")
                if st.form_submit_button("Restore", icon=":material/restore:", disabled=is_submitter, key="appr_restore"):
                    with user_errors(stop=False):
                        moved = restore(store, version_id, user, reason)
                        done(f"Version {version_id} restored: it is in force again; version {moved.superseded} "
                             "is superseded.")
        else:
            st.caption("Approvers and admins can restore it.")
    else:
        st.write("In force. Approving a newer version of this level supersedes it.")
with history:
    st.markdown("**History**")
    with user_errors(stop=False):
        events = approval_history(store, version_id)
        st.dataframe(blank_missing(events[["event_at", "user_name", "action", "status_before", "status_after",
                                           "reason"]]),
                     hide_index=True, width="stretch", key="appr_history",
                     column_config={"event_at": "when", "user_name": "who", "status_before": "state before",
                                    "status_after": "state after"})

# -- overrides --------------------------------------------------------------------------------
st.subheader("Overrides")
editable = status not in LOCKED
with user_errors(stop=False):
    listed = overrides(store, version_id)
    report = carry_over_report(store, version_id)
    if report is not None:
        st.caption(f"Carried over from version {report.from_version} when this version was saved: {report.carried} "
                   f"override(s), of which the new model already agrees with {report.model_agrees}; "
                   f"{len(report.not_carried)} not carried.")
        if report.not_carried:
            st.dataframe(blank_missing(pd.DataFrame(report.not_carried)), hide_index=True, key="appr_not_carried")
    if listed.empty:
        st.caption("No overrides: every item sits in the model's segment.")
    else:
        shown = listed.assign(model=listed["model_agrees"].map({True: "agrees", False: "disagrees"}))
        st.dataframe(blank_missing(shown[["override_id", "item", "model_segment", "segment", "segment_label", "model",
                                          "reason", "expires_on", "created_by", "created_at", "carried_from_version",
                                          "active", "withdrawn_by"]]),
                     hide_index=True, width="stretch", key="appr_overrides",
                     column_config={"model": st.column_config.TextColumn(
                         "model", help="Whether this version's model already puts the item where the override does"),
                         "override_id": "override", "model_segment": "model's segment",
                         "segment_label": "segment name", "created_by": "by", "withdrawn_by": "withdrawn by",
                         "carried_from_version": "carried from version", "expires_on": "expires on",
                         "created_at": "created"})

if not can(role, "override"):
    st.caption(f"Planners and admins add overrides; you are signed in as {user} ({role}).")
elif not editable:
    st.caption(f"Version {version_id} is {status}: its overrides are locked. Overrides are added to drafts (or "
               "rejected versions); the next saved version of the level carries the active ones over.")
else:
    with user_errors(stop=False):
        saved = load_version(store, version_id).result
    items = saved.assignments
    names = {str(seg): saved.label_of(seg) for seg in saved.auto_names}
    keys = [key_text(getattr(r, "customer_id", None), getattr(r, "product_id", None))
            for r in items.itertuples(index=False)]
    add_col, withdraw_col = st.columns([3, 2])
    with add_col, st.form("appr_add_override", clear_on_submit=True):
        st.markdown("**Add an override**")
        item = st.selectbox("Item", keys, index=None, placeholder="Choose an item", key="appr_item")
        target = st.selectbox("Move to segment", list(names), format_func=lambda s: f"{s}: {names[s]}",
                              key="appr_target")
        why = st.text_input("Reason (required)", key="appr_override_reason")
        expires = st.date_input("Expires on (optional)", value=None, min_value=dt.date.today() + dt.timedelta(days=1),
                                key="appr_expires")
        if st.form_submit_button("Add override", icon=":material/move_down:", key="appr_add"):
            with user_errors(stop=False):
                if item is None:
                    raise SegplanError("no item chosen", hint="choose the item to move")
                new_id = add_override(store, version_id, item, target, user, why, expires_on=expires)
                done(f"Override {new_id}: {item} moved to {names[target]}.")
    active = listed[listed["active"]] if not listed.empty else listed
    with withdraw_col:
        st.markdown("**Withdraw an override**")
        if active.empty:
            st.caption("No active override to withdraw.")
        else:
            labels = {int(r.override_id): f"{r.override_id}: {r.item} -> {r.segment_label}" for r in active.itertuples()}
            chosen = st.selectbox("Override", list(labels), format_func=labels.get, key="appr_withdraw_id")
            if st.button("Withdraw", icon=":material/undo:", key="appr_withdraw"):
                with user_errors(stop=False):
                    withdraw_override(store, chosen, user)
                    done(f"Override {chosen} withdrawn: the item is back in the model's segment.")

# -- export -----------------------------------------------------------------------------------
st.subheader("Export")
is_draft = status not in FINAL_STATES
allowed = can(role, "export_draft" if is_draft else "export_approved")
if is_draft:
    st.warning(f"Version {version_id} is {status}, not approved: its files are marked **DRAFT** (in the file name "
               "and a `draft` column).", icon=":material/warning:")
if not allowed:
    st.caption(f"Drafts are exported by planners, approvers and admins; you are signed in as {user} ({role}).")
columns = st.columns(4)
for column, (what, fmt) in zip(columns, [(w, f) for w in ("assignments", "policies") for f in ("csv", "parquet")],
                               strict=True):
    name = Path(f"{what}_v{version_id}.{fmt}")
    name = draft_name(name) if is_draft else name
    column.download_button(
        f"{what.capitalize()} {fmt.upper()}" + (" (DRAFT)" if is_draft else ""),
        data=lambda what=what, fmt=fmt, name=name: export_bytes(store, version_id, what, fmt, name.name, user),
        file_name=name.name, mime="text/csv" if fmt == "csv" else "application/vnd.apache.parquet",
        key=f"appr_export_{what}_{fmt}", disabled=not allowed, icon=":material/download:", on_click="ignore",
        help="Assignments with overrides applied" if what == "assignments" else "The policy of each segment")
