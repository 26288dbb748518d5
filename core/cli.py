"""The `segplan` command line: the batch face of the same core the app uses.

Each command is a thin wrapper over one core function. A problem the user can fix
(`SegplanError`) prints one line on stderr and exits 1; heavy modules are imported inside
commands so that `segplan --help` answers at once.

This module is the entry point (`core.cli:app`): the app, its callback, option types and helpers
are in core/cli_common.py (re-exported here), and each command module below registers its commands
on that app when imported; the import order is the order of `segplan --help`.
"""

from __future__ import annotations

import sys

from core.cli_common import (  # noqa: F401 - re-exported for the command modules and tests
    BUCKETS,
    Bucket,
    BucketOption,
    DbOption,
    Level,
    LevelOption,
    Measure,
    Mode,
    OutOption,
    ReasonOption,
    RequiredOutOption,
    RequiredVersionOption,
    UserOption,
    VersionOption,
    _acting_user,
    _choice,
    _db,
    _fail,
    _open_store,
    _parse_cutoffs,
    _required_out,
    _required_version,
    _run,
    _write_csv,
    app,
    main,
)

from core import cli_data  # noqa: E402,F401 - registers commands (init ... runs)
from core import cli_segment  # noqa: E402,F401 - registers commands (segment ... versions)
from core import cli_policy  # noqa: E402,F401 - registers commands (forecast, policy, allocate)
from core import cli_users  # noqa: E402,F401 - registers commands
from core import cli_monitor  # noqa: E402,F401 - registers commands
from core import cli_govern  # noqa: E402,F401 - registers commands
from core import cli_alerts  # noqa: E402,F401 - registers commands

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
