"""`make bench`: run every benchmark, print the figures, write benchmarks/results.json.

`python -m benchmarks places regions` runs only those (results.json is then not written).
"""

from __future__ import annotations

import asyncio
import json
import platform
import sys
from pathlib import Path
from typing import Any

from benchmarks import (
    bot_turns,
    broadcast,
    console,
    crash,
    cycle,
    flood,
    letters,
    places,
    police,
    qq_pacing,
    ratings,
    regions,
    retention,
    roster_import,
    sms_inbound,
    study,
    year_report,
)

RESULTS = Path(__file__).with_name("results.json")


async def main() -> int:
    results: dict[str, Any] = {"python": sys.version.split()[0], "machine": platform.machine()}
    modules = (
        roster_import,
        bot_turns,
        regions,
        places,
        broadcast,
        crash,
        flood,
        cycle,
        retention,
        qq_pacing,
        sms_inbound,
        console,
        study,
        police,
        letters,
        ratings,
        year_report,
    )
    chosen = sys.argv[1:]
    unknown = set(chosen) - {m.__name__.rsplit(".", 1)[-1] for m in modules}
    if unknown:
        print(f"no such benchmark: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    for module in modules:
        name = module.__name__.rsplit(".", 1)[-1]
        if chosen and name not in chosen:
            continue
        print(f"\n== {name}: {module.__doc__}", flush=True)
        results[name] = await module.run()
    if chosen:
        return 0
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten to {RESULTS}")
    return 0


sys.exit(asyncio.run(main()))
