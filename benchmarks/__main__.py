"""`make bench`: run every benchmark, print the figures, write benchmarks/results.json."""

from __future__ import annotations

import asyncio
import json
import platform
import sys
from pathlib import Path
from typing import Any

from benchmarks import bot_turns, broadcast, cycle, regions, roster_import

RESULTS = Path(__file__).with_name("results.json")


async def main() -> int:
    results: dict[str, Any] = {"python": sys.version.split()[0], "machine": platform.machine()}
    for module in (roster_import, bot_turns, regions, broadcast, cycle):
        name = module.__name__.rsplit(".", 1)[-1]
        print(f"\n== {name}: {module.__doc__}", flush=True)
        results[name] = await module.run()
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten to {RESULTS}")
    return 0


sys.exit(asyncio.run(main()))
