"""The long fuzzing run of the bundle readers (the test suite runs 60 examples of each: tests/test_bundle_readers_fuzz.py).

    python tests/benchmarks/fuzz_bundle_readers.py BUNDLE_DIR [--examples 5000]

Mutates a copy of ``BUNDLE_DIR``'s ``manifest.json`` and one ``carspotter.json`` (tests/fuzz_bundle_readers.py) and
prints, per reader, how many inputs were read, how many refused in one line, the examples per second, and any input
that raised something else (the property broken; hypothesis shrinks it and prints it).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def fuzz(name: str, read, path: Path, examples: int) -> None:
    from hypothesis import HealthCheck, given, settings

    from fuzz_bundle_readers import check_reader, mutated

    original, counts, t0 = path.read_bytes(), {"ok": 0, "refused": 0}, time.time()

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=mutated(original))
    def run(data):
        counts[check_reader(read, path, data)] += 1

    try:
        run()
    finally:
        path.write_bytes(original)
    total = sum(counts.values())
    print(
        f"{name}: {total} inputs, {counts['ok']} read, {counts['refused']} refused in one line, "
        f"{total / (time.time() - t0):.0f} inputs/s, no other exception"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--examples", type=int, default=5000)
    args = parser.parse_args(argv)
    from carspotter.contracts.bundle_facts import read_bundle_facts
    from carspotter.contracts.manifest import read_manifest

    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "b"
        shutil.copytree(args.bundle, bundle)
        manifest = read_manifest(bundle)
        fuzz("manifest.json", lambda: read_manifest(bundle), bundle / "manifest.json", args.examples)
        facts = next(bundle.rglob("carspotter.json"))
        fuzz(
            "carspotter.json",
            lambda: read_bundle_facts(facts, manifest.labels, manifest.spec.size),
            facts,
            args.examples,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
