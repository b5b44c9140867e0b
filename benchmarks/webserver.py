"""The web server's start time and memory: `dagster-webserver` alone and `dagster dev` (the whole UI stack).

    .venv/bin/python benchmarks/webserver.py [--repeat 3]

For each repetition, in a fresh `$DAGSTER_HOME` with the project's dagster.yaml: start the process in its
own process group, time until `/server_info` answers and until the sector_forecast code location is loaded
(GraphQL says `RepositoryLocation`), then read the resident memory of the whole process group (webserver,
code server, and for `dagster dev` the daemon) after a 10 s settle, and stop it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time

import requests
from _common import REPO, VENV_BIN, fresh_home, machine, mib, rss_of_group, summary

from sector_forecast_tests.deploy.services import background, free_port, isolated_env

LOADED = (
    "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { __typename } } } } }"
)


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def location_loaded(url: str) -> bool:
    try:
        data = requests.post(url, json={"query": LOADED}, timeout=5).json()["data"]
    except (requests.RequestException, ValueError, KeyError):
        return False
    entries = data["workspaceOrError"].get("locationEntries") or []
    return any(
        (e.get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation" for e in entries
    )


def measure(kind: str) -> tuple[float, float, int]:
    """(seconds to /server_info, seconds to the code location loaded, RSS of the process group)."""
    with fresh_home() as home:
        home.mkdir(parents=True)
        shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
        port = free_port()
        workspace = str(REPO / "workspace.yaml")
        if kind == "dagster dev":
            cmd = [str(VENV_BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", workspace]
        else:
            cmd = [str(VENV_BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", workspace]
        base = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        with background(cmd, home.parent / "server.log", isolated_env(DAGSTER_HOME=str(home))) as proc:
            up = loaded = None
            while time.perf_counter() - started < 300 and proc.poll() is None:
                if up is None and answers(f"{base}/server_info"):
                    up = time.perf_counter() - started
                if up is not None and location_loaded(f"{base}/graphql"):
                    loaded = time.perf_counter() - started
                    break
                time.sleep(0.2)
            if loaded is None:
                raise SystemExit(
                    f"{kind} did not come up: {(home.parent / 'server.log').read_text()[-2000:]}"
                )
            time.sleep(10)
            rss = rss_of_group(proc.pid)
    return up, loaded, rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    for kind in ("dagster-webserver", "dagster dev"):
        ups, loads, rsss = [], [], []
        for _ in range(args.repeat):
            up, loaded, rss = measure(kind)
            ups.append(up)
            loads.append(loaded)
            rsss.append(rss)
        print(f"{kind}: /server_info answers after {summary(ups)} s; code location loaded after "
              f"{summary(loads)} s; resident memory of its processes {mib(max(rsss))} "
              f"(largest of {len(rsss)})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
