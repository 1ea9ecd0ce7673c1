"""Load test on PostgreSQL: the search page and the API under wrk, over 1,000,000 practitioners.

Generates the listed practitioners once (tools/bench_search.py's generator, clustered by town
population) into a PostgreSQL database that is kept for later runs, serves the app with gunicorn
(the repository's gunicorn.conf.py when it exists, else 2 workers) with rate limits off, behind
nginx as in production (deploy/nginx.conf; --direct leaves it out), with the mail worker running
beside it (delivering to an SMTP sink of this process), and runs wrk (64 connections,
60 s) on the search page and then on the API, each request searching 25 km around a different
point near one of the 10 largest cities. Prints a Markdown table: requests/s,
p50, p99 and errors (non-2xx responses + socket errors; the target is zero).

    python tools/load_test.py                          # the defaults below
    python tools/load_test.py --database-url postgresql://postgres@127.0.0.1:5433/directory_load \
        --size 1000000 --seconds 60 --connections 64
    python tools/load_test.py --prepare-only           # only generate the database
    python tools/load_test.py --direct                 # wrk straight at gunicorn, no nginx

Rate limits are off (DIRECTORY_RATELIMIT_ENABLED=false) because every wrk request comes from one
address, which the limits would rightly throttle.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import loadkit


def main() -> None:
    """Prepare the database, serve it, run wrk on each target and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=loadkit.DEFAULT_DATABASE_URL,
                        help="PostgreSQL database to fill and serve (created when missing)")
    parser.add_argument("--size", type=int, default=loadkit.DEFAULT_SIZE,
                        help="listed practitioners to generate")
    parser.add_argument("--fresh", action="store_true",
                        help="drop and regenerate the database instead of reusing it")
    parser.add_argument("--workdir", type=Path, default=loadkit.DEFAULT_WORKDIR,
                        help="instance folder, wrk scripts and gunicorn.log")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers (default: gunicorn.conf.py, else 2)")
    parser.add_argument("--targets", default="page,api", help="page, api or both")
    parser.add_argument("--direct", action="store_true",
                        help="wrk straight at gunicorn, without nginx in front")
    parser.add_argument("--prepare-only", action="store_true")
    args = parser.parse_args()

    url = loadkit.database_url(args.database_url)
    args.workdir.mkdir(parents=True, exist_ok=True)
    loadkit.prepare(url, args.size, args.workdir, fresh=args.fresh)
    if args.prepare_only:
        return
    places = loadkit.cities(10)
    paths = {"page": ("search page", loadkit.SEARCH_PATH),
             "api": ("API /api/v1/practitioners", loadkit.API_PATH)}
    print(f"Machine: {loadkit.machine()}; {args.size:,} practitioners; "
          f"wrk {args.connections} connections, {args.seconds} s per target; "
          f"25 km around points near {', '.join(p[0] for p in places)}.")
    rows = []
    with loadkit.serve(url, args.workdir, args.workers, direct=args.direct) as served:
        base = served.base
        print(f"Server: {' '.join(served.command[1:])}; proxy: "
              f"{loadkit.describe_front(args.direct)}; mail worker: "
              f"{' '.join(loadkit.WORKER_COMMAND[1:])} (SMTP sink on {served.sink.port})")
        for target in args.targets.split(","):
            name, path = paths[target]
            script = loadkit.wrk_script(args.workdir, target, path, places)
            loadkit.log(f"wrk on the {name} for {args.seconds} s")
            started = time.time()
            result = loadkit.run_wrk(base, script, args.seconds, args.connections)
            loadkit.log(f"done in {time.time() - started:.0f} s")
            (args.workdir / f"wrk-{target}.txt").write_text(result["raw"])
            rows.append((name, result))
        worker = ("still running" if served.worker.poll() is None
                  else f"EXITED with {served.worker.returncode}")
    print()
    print("| target | requests/s | p50 ms | p99 ms | requests | non-2xx | socket errors |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows:
        sockets = ", ".join(f"{k} {v}" for k, v in r["socket_errors"].items() if v) or "0"
        print(f"| {name} | {r['rps']:.1f} | {r['latency'].get('50', 0):.0f} "
              f"| {r['latency'].get('99', 0):.0f} | {r['requests']:,} | {r['non_2xx_3xx']} "
              f"| {sockets} |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"mail worker {worker} at the end")


if __name__ == "__main__":
    main()
