"""Audit: every write with who, when, what, before and after, and why; and the hash-chain check."""

import datetime as dt
import json

import streamlit as st

from core.audit import audit_trail, verify_chain
from ui.auth import require_page
from ui.state import ensure_entry, get_store, user_errors

ensure_entry()
require_page("view_audit")

st.title("Audit")
st.caption("Every write (load, segmentation run, rename, policy edit, account change, override, submit, approve, "
           "reject) appends one event. Events are only ever added, and each carries a hash of the one before, so a "
           "row edited outside segplan breaks the chain.")

store = get_store()
with user_errors():
    check = verify_chain(store)
    everything = audit_trail(store)

if check.intact:
    st.success(f"**Hash chain intact**: {check.events:,} events, none edited outside segplan.",
               icon=":material/verified:")
else:
    st.error(f"**Hash chain broken at event {check.broken_at}**: that event (or the one before it) was edited or "
             "deleted outside segplan. Restore the database from a backup and find who had write access to the file.",
             icon=":material/gpp_bad:")

if everything.empty:
    st.info("**No events yet.** Load data, run a segmentation or change a policy and it shows here.",
            icon=":material/info:")
    st.stop()

with st.sidebar:
    st.header("Filter")
    user = st.selectbox("User", ["(all)", *sorted(everything["user_name"].dropna().unique())])
    action = st.selectbox("Action", ["(all)", *sorted(everything["action"].unique())])
    entity = st.selectbox("Entity", ["(all)", *sorted(everything["entity"].unique())])
    first_day, last_day = everything["event_at"].min().date(), everything["event_at"].max().date()
    days = st.date_input("Dates", (first_day, last_day), min_value=first_day, max_value=last_day)

since = until = None
if isinstance(days, tuple | list) and len(days) == 2:
    since, until = days[0], days[1] + dt.timedelta(days=1)
with user_errors():
    events = audit_trail(store, user=None if user == "(all)" else user, action=None if action == "(all)" else action,
                         entity=None if entity == "(all)" else entity, since=since, until=until)



def readable(text: object) -> str | None:
    """Stored JSON as the planner reads it: ``role: planner · active: true`` (the CSV keeps the JSON)."""
    if text is None or text != text:
        return None
    value = json.loads(str(text))
    if isinstance(value, dict):
        return " · ".join(f"{key}: {json.dumps(item) if isinstance(item, dict | list) else item}"
                          for key, item in value.items())
    return str(value)


events = events.sort_values("event_id", ascending=False)
st.subheader(f"{len(events):,} of {len(everything):,} events, newest first")
st.dataframe(events.assign(before=events["before"].map(readable), after=events["after"].map(readable)),
             hide_index=True, width="stretch", column_config={
    "event_id": st.column_config.NumberColumn("Event", format="%d"),
    "event_at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm:ss"),
    "user_name": "Who", "action": "Action", "entity": "Entity", "entity_id": "Which",
    "before": st.column_config.TextColumn("Before", width="large"),
    "after": st.column_config.TextColumn("After", width="large"),
    "reason": "Why"})
st.download_button("Download these events (CSV)", events.to_csv(index=False).encode(), "audit.csv", "text/csv",
                   icon=":material/download:")
