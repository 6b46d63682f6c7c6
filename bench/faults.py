"""Fault benchmark (not a test): mixed load while the worker is SIGKILLed mid-call and
every database connection of the app is cut each second; then, after the sweeper's
passes, checks that no accepted submission was lost, no action is stuck, and the
worker and the sweeper still run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tf_bench \\
        .venv/bin/python bench/faults.py --kills 5 --seconds 25

Actions take 1 s at the far end so kills land mid-call. A killed worker is started
again at once, as its supervisor would (systemd, bin/supervise); the sweeper and the
web server are never restarted. Stuck IN_PROGRESS actions are recovered after their
deadline (timeout 5 s + 60 s grace), so the settle phase waits up to --settle seconds."""

import argparse
import json
import os
import signal
import time
from collections import Counter

from django.db import connection
from load import (  # bench/load.py (this directory is on sys.path when run as a script)
    ROOT,
    ActionServer,
    Cluster,
    db_deadlocks,
    free_port,
    report,
    run_load,
    seed,
    server_env,
    settle,
)


def cut_app_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=25)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--settle", type=float, default=150)
    args = parser.parse_args()

    actions = ActionServer(call_seconds=1.0)
    port = free_port()
    seed_ = seed(actions.url)
    env = {**server_env(port), "ACTIONS_DEFAULT_TIMEOUT_SECONDS": "5", "ACTIONS_REQUEUE_AFTER_SECONDS": "10"}
    cluster = Cluster(port=port, workers=1, sweep_every=5, logs=ROOT / "bench" / "logs" / "faults", env=env)
    for log in cluster.logs.glob("*.log"):
        log.unlink()
    deadlocks_before = db_deadlocks()
    faults: Counter[str] = Counter()

    def inject(until: float) -> None:
        kill_every = args.seconds / (args.kills + 1)
        next_kill = time.monotonic() + kill_every
        while time.monotonic() < until:
            time.sleep(1)
            faults["connections cut"] += cut_app_connections()
            faults["cut rounds"] += 1
            if faults["worker kills"] < args.kills and time.monotonic() >= next_kill:
                os.kill(cluster.procs["worker0"].pid, signal.SIGKILL)
                cluster.procs["worker0"].wait()
                faults["worker kills"] += 1
                cluster.start("worker0")  # the supervisor's restart
                next_kill += kill_every

    cluster.start_all()
    try:
        results = run_load(f"http://127.0.0.1:{port}", seed_, args.clients, args.seconds, side=inject)
        connection.close()  # ours was not cut, but be sure
        outcome = settle(results.submitted, seconds=args.settle)
        alive = cluster.alive()
    finally:
        cluster.stop()
    summary = {
        "faults": dict(faults),
        **report(results, args.seconds),
        "callbacks": dict(actions.callback_status),
        "action_calls_repeated_by_kills": actions.repeated_calls(),
        "deadlocks_in_postgres": db_deadlocks() - deadlocks_before,
        "submissions": outcome,
        "processes_alive_at_end": alive,
        "lost": outcome["missing"],
        "stuck": outcome["actions still moving"],
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
