"""Fault benchmark (not a test): 200 requests of mixed load while the worker is
SIGKILLed 5 times mid-call (an action call is in flight at its far end) and every
database connection of the app is cut each second (`pg_terminate_backend`); then,
after the sweeper's passes, checks that no accepted submission was lost, no action is
stuck, and the worker and the sweeper still run. Exits 1 if any check fails.

    dropdb tf_bench; createdb tf_bench   # a fresh database: no earlier run's backlog
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tf_bench \\
        .venv/bin/python bench/faults.py --requests 200 --kills 5

Actions take 1 s at the far end so kills land mid-call. A killed worker is started
again at once, as its supervisor would (systemd, bin/supervise); the sweeper and the
web server are never restarted. A killed call leaves its task IN_PROGRESS until its
deadline (timeout 5 s + 60 s grace); the sweeper then queues it again, so the settle
phase waits up to --settle seconds, then for one more sweeper pass."""

import argparse
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable

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

SWEEP_EVERY = 5.0


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
    parser.add_argument("--requests", type=int, default=200, help="the load stops after this many")
    parser.add_argument("--seconds", type=float, default=600, help="upper bound on the load's duration")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--settle", type=float, default=150)
    args = parser.parse_args()

    actions = ActionServer(call_seconds=1.0)
    port = free_port()
    seed_ = seed(actions.url)
    env = {**server_env(port), "ACTIONS_DEFAULT_TIMEOUT_SECONDS": "5", "ACTIONS_REQUEUE_AFTER_SECONDS": "10"}
    cluster = Cluster(
        port=port, workers=1, sweep_every=SWEEP_EVERY, logs=ROOT / "bench" / "logs" / "faults", env=env
    )
    for log in cluster.logs.glob("*.log"):
        log.unlink()
    deadlocks_before = db_deadlocks()
    faults: Counter[str] = Counter()

    def kill_worker_mid_call() -> bool:
        with actions.lock:
            mid_call = actions.in_flight > 0
        if not mid_call:
            return False
        os.kill(cluster.procs["worker0"].pid, signal.SIGKILL)
        cluster.procs["worker0"].wait()
        faults["worker kills mid-call"] += 1
        cluster.start("worker0")  # the supervisor's restart
        return True

    def inject(over: Callable[[], bool]) -> None:
        # Cuts every second while the load runs; a kill at most every 2 s, whenever a
        # call is in flight, until all kills are done (the load is bounded by requests).
        last_kill = 0.0
        while not over() or faults["worker kills mid-call"] < args.kills:
            time.sleep(1)
            if not over():
                faults["connections cut"] += cut_app_connections()
                faults["cut rounds"] += 1
            may_kill = faults["worker kills mid-call"] < args.kills and time.monotonic() - last_kill >= 2
            if may_kill and kill_worker_mid_call():
                last_kill = time.monotonic()
            if over() and time.monotonic() > started + args.seconds:
                break  # no call in flight any more: give up on the remaining kills

    cluster.start_all()
    started = time.monotonic()
    try:
        results = run_load(
            f"http://127.0.0.1:{port}",
            seed_,
            args.clients,
            args.seconds,
            side=inject,
            requests_budget=args.requests,
        )
        load_seconds = time.monotonic() - started
        connection.close()  # ours was not cut, but be sure
        outcome = settle(results.submitted, seconds=args.settle)
        time.sleep(SWEEP_EVERY + 1)  # the sweeper's next pass
        outcome = settle(results.submitted, seconds=0)
        alive = cluster.alive()
    finally:
        cluster.stop()
    checks = {
        "worker kills mid-call": faults["worker kills mid-call"] == args.kills,
        "0 lost submissions": outcome["missing"] == 0 and outcome["without a task"] == 0,
        "0 stuck actions": outcome["actions still moving"] == 0,
        "worker and sweeper running": alive["worker0"] and alive["sweeper"],
    }
    summary = {
        "conditions": {
            "requests": args.requests,
            "clients": args.clients,
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "load_seconds": round(load_seconds, 1),
        },
        "faults": dict(faults),
        **report(results, load_seconds),
        "callbacks": dict(actions.callback_status),
        "action_calls_repeated_by_kills": actions.repeated_calls(),
        "deadlocks_in_postgres": db_deadlocks() - deadlocks_before,
        "submissions": outcome,
        "processes_alive_at_end": alive,
        "checks": checks,
    }
    print(json.dumps(summary, indent=2))
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
