#!/usr/bin/env python3
"""Start a neutrino API server for the benchmarks without the ``neutrino serve`` CLI.

The fallback ``bench/compare.py`` uses when the CLI cannot start a server. It does what the
CLI does: migrate a (fresh) database (``--schema models``: create it straight from the
models, for when a migration lags behind them), bootstrap the admin with
``--admin-password`` (or ``NEUTRINO_ADMIN_PASSWORD``), then serve the app with uvicorn
(httptools + uvloop, no access log) on ``--listen``. One process, one event loop.
``--cprofile-dir`` adds CPU-time cProfile runs switched by signals (``bench/hotspots.py``).

    python bench/serve_neutrino.py --listen 127.0.0.1:19696 --state-dir /tmp/nb
"""

from __future__ import annotations

import argparse
import cProfile
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType


class SignalProfiler:
    """cProfile on the server's CPU clock, switched by signals: SIGUSR1 starts a profile,
    SIGUSR2 stops it and writes ``<dir>/<n>.prof`` (pstats). The timer is the thread's CPU
    time, so time spent waiting (for the client, for the CPU on a loaded box) is not counted;
    the event loop and every endpoint run on the main thread, where the handlers run too."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.count = 0
        self.prof: cProfile.Profile | None = None
        out.mkdir(parents=True, exist_ok=True)
        signal.signal(signal.SIGUSR1, self.start)
        signal.signal(signal.SIGUSR2, self.stop)

    def start(self, _sig: int, _frame: FrameType | None) -> None:
        self.prof = cProfile.Profile(time.thread_time)
        self.prof.enable()

    def stop(self, _sig: int, _frame: FrameType | None) -> None:
        if self.prof is None:
            return
        self.prof.disable()
        self.count += 1
        tmp = self.out / f"{self.count}.prof.tmp"
        self.prof.dump_stats(tmp)
        tmp.rename(self.out / f"{self.count}.prof")  # appears complete
        self.prof = None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--listen", default="127.0.0.1:19696")
    ap.add_argument("--state-dir", required=True, type=Path)
    ap.add_argument("--db", default="", help="database URL (default: SQLite in the state dir)")
    ap.add_argument("--admin-password", default=os.environ.get("NEUTRINO_ADMIN_PASSWORD", ""))
    ap.add_argument(
        "--schema",
        choices=["migrate", "models"],
        default="migrate",
        help="create the schema with Alembic (default) or straight from the "
        "models (when a migration lags behind the models)",
    )
    ap.add_argument(
        "--cprofile-dir",
        type=Path,
        help="enable SIGUSR1/SIGUSR2 cProfile toggling, profiles written here",
    )
    args = ap.parse_args(argv)
    if not args.admin_password:
        ap.error("--admin-password or NEUTRINO_ADMIN_PASSWORD is required")

    import uvicorn

    from neutrino.api.app import create_app
    from neutrino.common.settings import Settings
    from neutrino.service.container import Services
    from neutrino.store import migrate
    from neutrino.store.uow import Store

    settings = Settings(
        state_dir=args.state_dir, db=args.db, listen=args.listen, admin_password=args.admin_password
    )
    store = Store(settings.db_url)
    if args.schema == "migrate":
        migrate.upgrade(settings.db_url)
    else:
        store.create_all()
    try:
        Services.build(settings, store).identity.bootstrap(args.admin_password)
    finally:
        store.dispose()
    if args.cprofile_dir:
        SignalProfiler(args.cprofile_dir)
    host, _, port = args.listen.rpartition(":")
    uvicorn.run(
        create_app(settings),
        host=host or "127.0.0.1",
        port=int(port),
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
