"""Runs a subset of the system tests with the broker under valgrind memcheck
and fails if valgrind reports anything: invalid reads or writes, use of
uninitialised values, or definitely/indirectly lost memory at exit (the
broker frees everything on SIGTERM).

The subset avoids tests whose timing a 20-50x slower broker would break
(keepalive, timeouts). Usage: run_memcheck.py [test module names...]
Environment: MUSQRATT_BIN (a non-sanitizer build)."""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM = os.path.join(HERE, "..", "system")
DEFAULT = ["test_publish", "test_subscribe", "test_retain", "test_session",
           "test_v5_publish", "test_v5_subscribe"]


def main():
    real = os.environ.get("MUSQRATT_BIN")
    if not real:
        print("MUSQRATT_BIN is not set")
        return 2
    modules = sys.argv[1:] or DEFAULT
    failed = 0
    with tempfile.TemporaryDirectory(prefix="mq-memcheck-") as tmp:
        wrapper = os.path.join(tmp, "musqratt-memcheck")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec valgrind --error-exitcode=99 --leak-check=full "
                    "--errors-for-leak-kinds=definite,indirect --track-origins=yes "
                    "--log-file=%s/vg.%%p.log %s \"$@\"\n" % (tmp, real))
        os.chmod(wrapper, 0o755)
        env = dict(os.environ, MUSQRATT_BIN=wrapper)
        for m in modules:
            r = subprocess.run([sys.executable, os.path.join(SYSTEM, m + ".py")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            last = [l for l in r.stdout.splitlines() if l.strip()][-1:] or ["?"]
            print("%-20s %s" % (m, last[0]))
            if r.returncode != 0:
                print(r.stdout[-3000:])
                failed += 1
        logs = sorted(f for f in os.listdir(tmp) if f.startswith("vg."))
        reports = unfinished = 0
        for name in logs:
            with open(os.path.join(tmp, name)) as f:
                text = f.read()
            if "ERROR SUMMARY:" not in text:
                unfinished += 1  # killed before valgrind's exit report
                if any(k in text for k in ("Invalid ", "uninitialised", "Conditional jump",
                                           "Mismatched free", "Source and destination")):
                    reports += 1
                    print("valgrind report in %s:\n%s" % (name, text[-6000:]))
            elif "ERROR SUMMARY: 0 errors" not in text:
                reports += 1
                print("valgrind report in %s:\n%s" % (name, text[-6000:]))
        print("memcheck: %d broker runs, %d with errors, %d killed before the exit report"
              % (len(logs), reports, unfinished))
        # A few runs killed by the harness's stop timeout lose their leak
        # report but not the errors printed while running (they are in the
        # log, and counted above if any); most runs must finish.
        if reports or unfinished * 4 > len(logs):
            failed += 1
    print("%d passed, %d failed" % (len(modules) - min(failed, len(modules)), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
