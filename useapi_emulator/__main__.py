"""Run the emulator in the foreground: `python -m useapi_emulator --port 8787 --token demo`.

Prints the base URL (for `useapi:baseUrl`) on the first line of stdout, then serves until
interrupted or terminated.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from .server import UseapiEmulator

# The token can come from the environment so that it does not show in the process list.
TOKEN_ENV = "USEAPI_EMULATOR_TOKEN"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m useapi_emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV, "demo-useapi-token"),
        help=f"the bearer token to accept (default: ${TOKEN_ENV}, else demo-useapi-token)",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument(
        "--state",
        default=None,
        help="JSON file that keeps the accounts across restarts (secrets only as fingerprints)",
    )
    parser.add_argument(
        "--request-log",
        default=None,
        help="file to append one line per request to (`METHOD path`, no bodies), for counting",
    )
    parser.add_argument(
        "--admit-at-once",
        type=int,
        default=None,
        help="throttle: serve this many requests at once, answer 429 (Retry-After) beyond them",
    )
    parser.add_argument(
        "--retry-after",
        default="1",
        help="the Retry-After (whole seconds) of a throttled request's 429 (default 1)",
    )
    args = parser.parse_args(argv)

    emulator = UseapiEmulator(
        token=args.token, port=args.port, state_path=args.state, request_log=args.request_log
    )
    emulator.latency = args.latency
    emulator.admit_at_once = args.admit_at_once
    emulator.throttle_retry_after = args.retry_after
    stopped = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with emulator:
        sys.stdout.write(f"{emulator.base_url}\n")
        sys.stdout.flush()
        stopped.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
