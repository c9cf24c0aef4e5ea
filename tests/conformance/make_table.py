"""Rewrites the results section of docs/CONFORMANCE.md from two suite runs.

Owns: merging the `musqratt-check --json` reports of musqratt and Mosquitto
into one Markdown table (statement id, version, case title, both results and
a "why the case is right" note from tests/conformance/notes.tsv), summary
counts per broker and version, and the failure details; then replacing the
text between `<!-- results:begin -->` and `<!-- results:end -->` in the
document. Text outside the markers is never touched.

Warns (stderr) about each Mosquitto failure that has no note, and about notes
for cases Mosquitto no longer fails: a note must explain a real difference.

With --statements (tests/conformance/statements.tsv), also rewrites the text
between `<!-- coverage:begin -->` and `<!-- coverage:end -->`: per standard,
the statements the suite has cases for, those a client could observe but the
suite does not test yet, and those it cannot observe, by group.

Usage:
  make_table.py --musqratt A.json --mosquitto B.json --notes notes.tsv
                --doc docs/CONFORMANCE.md [--statements statements.tsv]
                [--mosquitto-name "Mosquitto 2.0.11"] [--date YYYY-MM-DD]
"""

import argparse
import datetime
import json
import sys

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"
COV_BEGIN = "<!-- coverage:begin -->"
COV_END = "<!-- coverage:end -->"
VERSIONS = ("3.1", "3.1.1", "5.0")
GROUPS = (("client", "MUSTs on the Client only"),
          ("internal", "server-internal state"),
          ("websocket", "MQTT over WebSocket"),
          ("conformance", "conformance clauses"))


def load_report(path):
    # The suite writes reasons byte for byte; a broker's reply may put invalid
    # UTF-8 into one, which must not stop the table from being written.
    with open(path, "rb") as f:
        data = json.loads(f.read().decode("utf-8", "replace"))
    for key in ("cases", "passed", "failed", "skipped"):
        if key not in data:
            sys.exit("make_table: %s: no %r (did the suite finish?)" % (path, key))
    return data


def load_notes(path):
    """{(id, version): note}. Lines: id TAB version TAB note; # comments."""
    notes = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 3 or not all(p.strip() for p in parts):
                sys.exit("make_table: %s:%d: want id<TAB>version<TAB>note" % (path, n))
            sid, ver, note = (p.strip() for p in parts)
            if ver not in VERSIONS:
                sys.exit("make_table: %s:%d: version %r is not one of %s"
                         % (path, n, ver, ", ".join(VERSIONS)))
            if (sid, ver) in notes:
                sys.exit("make_table: %s:%d: second note for %s %s" % (path, n, sid, ver))
            notes[(sid, ver)] = note
    return notes


def load_statements(path):
    """{version: {id: group}} in file order."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 3:
                sys.exit("make_table: %s:%d: want version<TAB>id<TAB>group" % (path, n))
            ver, sid, group = parts
            if group not in ("wire",) + tuple(g for g, _ in GROUPS):
                sys.exit("make_table: %s:%d: unknown group %r" % (path, n, group))
            out.setdefault(ver, {})[sid] = group
    return out


def id_order(sid):
    """MQTT-3.10.4-2 sorts after MQTT-3.9.3-1: compare the numbers, not text."""
    nums = []
    for part in sid.replace("MQTT-", "").replace("-", ".").split("."):
        nums.append(int(part) if part.isdigit() else 10 ** 6)
    return nums


def id_list(ids):
    return ", ".join(sorted(ids, key=id_order)) if ids else "none"


def coverage(cases, statements):
    """The coverage section; MQTT 3.1 cases count for the 3.1.1 statements
    (3.1 has no numbered statements; the suite names its 3.1 cases by the
    3.1.1 statement they share)."""
    out = [COV_BEGIN, ""]
    warnings = []
    for ver in ("3.1.1", "5.0"):
        known = statements.get(ver, {})
        vcases = [c for c in cases if c["version"] == ver or (ver == "3.1.1" and c["version"] == "3.1")]
        tested = {c["id"] for c in vcases}
        wire = [i for i, g in known.items() if g == "wire"]
        out.append("#### MQTT %s" % ver)
        out.append("")
        out.append("- **Tested** (%d statements, %d cases): %s." % (
            len(tested), len(vcases), id_list(tested)))
        untested = [i for i in wire if i not in tested]
        out.append("- **Observable but not tested yet** (%d of the %d a client can observe): %s." % (
            len(untested), len(wire), id_list(untested)))
        for group, title in GROUPS:
            ids = [i for i, g in known.items() if g == group and i not in tested]
            if ids:
                out.append("- Not observable from outside, %s (%d): %s." % (title, len(ids), id_list(ids)))
        unknown = tested - set(known)
        if unknown:
            out.append("- Tested, but not in this document's list of %s statements: %s." % (
                ver, id_list(unknown)))
            if ver == "3.1.1":
                warnings.append("cases name statements that are not in Appendix B of MQTT 3.1.1: "
                                + id_list(unknown))
        out.append("")
    out.append(COV_END)
    return "\n".join(out) + "\n", warnings


def replace_between(doc, begin, end, section, path):
    start, stop = doc.find(begin), doc.find(end)
    if start < 0 or stop < start:
        sys.exit("make_table: %s: no %s ... %s markers" % (path, begin, end))
    # The section ends with the end marker and a newline; keep what followed.
    tail = doc[stop + len(end):]
    if tail.startswith("\n"):
        tail = tail[1:]
    return doc[:start] + section + tail


def cell(text):
    return text.replace("|", "\\|").replace("\n", " ").strip()


def result_cell(case):
    if case is None:
        return "—"
    r = case["result"]
    return {"pass": "pass", "fail": "**FAIL**", "skip": "skip"}.get(r, r)


def key(case):
    return (case["id"], case["version"], case["title"])


def counts(cases):
    out = {}
    for c in cases:
        per = out.setdefault(c["version"], {"pass": 0, "fail": 0, "skip": 0})
        per[c["result"]] = per.get(c["result"], 0) + 1
    return out


def build(mq, mo, notes, mo_name, date):
    mq_cases = {key(c): c for c in mq["cases"]}
    mo_cases = {key(c): c for c in mo["cases"]}
    order = [key(c) for c in mq["cases"]]
    order += [k for k in (key(c) for c in mo["cases"]) if k not in mq_cases]

    warnings = []
    mo_failing = {(k[0], k[1]) for k, c in mo_cases.items() if c["result"] == "fail"}
    for k in order:
        c = mo_cases.get(k)
        if c is not None and c["result"] == "fail" and (k[0], k[1]) not in notes:
            warnings.append("Mosquitto fails %s (%s) \"%s\" and notes.tsv has no note for it"
                            % k)
    for sid, ver in sorted(notes):
        if (sid, ver) not in mo_failing:
            warnings.append("notes.tsv has a note for %s (%s), which Mosquitto does not fail"
                            % (sid, ver))

    out = [BEGIN, ""]
    out.append("Generated by `tests/conformance/compare.sh` on %s: musqratt (this tree) and "
               "%s, each on its own loopback port, the whole suite against each. "
               "Do not edit by hand between the markers." % (date, mo_name))
    out.append("")
    out.append("### Summary")
    out.append("")
    out.append("| Broker | MQTT version | Cases | Passed | Failed | Skipped |")
    out.append("|---|---|---:|---:|---:|---:|")
    for name, rep in (("musqratt", mq), (mo_name, mo)):
        per = counts(rep["cases"])
        for ver in VERSIONS:
            if ver not in per:
                continue
            p = per[ver]
            out.append("| %s | %s | %d | %d | %d | %d |" % (
                name, ver, p["pass"] + p["fail"] + p["skip"], p["pass"], p["fail"], p["skip"]))
        out.append("| %s | all | %d | %d | %d | %d |" % (
            name, rep["passed"] + rep["failed"] + rep["skipped"], rep["passed"],
            rep["failed"], rep["skipped"]))
    out.append("")
    out.append("### Results by statement")
    out.append("")
    out.append("A statement with several cases has one row per case. \"Why the case is "
               "right\" is filled in where Mosquitto fails: what the standard requires and "
               "what Mosquitto does instead, so that a failure is not mistaken for a bug in "
               "the case.")
    out.append("")
    out.append("| Statement | Version | Case | musqratt | %s | Why the case is right |" % mo_name)
    out.append("|---|---|---|---|---|---|")
    for k in order:
        a, b = mq_cases.get(k), mo_cases.get(k)
        note = notes.get((k[0], k[1]), "") if b is not None and b["result"] == "fail" else ""
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            cell(k[0]), k[1], cell(k[2]), result_cell(a), result_cell(b), cell(note)))
    out.append("")

    for name, cases in (("musqratt", mq_cases), (mo_name, mo_cases)):
        bad = [c for k, c in ((k, cases.get(k)) for k in order)
               if c is not None and c["result"] in ("fail", "skip")]
        if not bad:
            continue
        out.append("### %s: failures and skips as the suite reported them" % name)
        out.append("")
        for c in bad:
            out.append("- %s %s (%s) %s: %s" % (
                c["result"].upper(), cell(c["id"]), c["version"], cell(c["title"]),
                cell(c.get("reason", "")) or "no reason given"))
        out.append("")
    out.append(END)
    return "\n".join(out) + "\n", warnings


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--musqratt", required=True)
    ap.add_argument("--mosquitto", required=True)
    ap.add_argument("--notes", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--statements", help="statements.tsv: also rewrite the coverage section")
    ap.add_argument("--mosquitto-name", default="Mosquitto")
    ap.add_argument("--date", default=datetime.date.today().isoformat())
    a = ap.parse_args()

    section, warnings = build(load_report(a.musqratt), load_report(a.mosquitto),
                              load_notes(a.notes), a.mosquitto_name, a.date)
    with open(a.doc, encoding="utf-8") as f:
        doc = f.read()
    doc = replace_between(doc, BEGIN, END, section, a.doc)
    if a.statements:
        cov, more = coverage(load_report(a.musqratt)["cases"], load_statements(a.statements))
        warnings += more
        doc = replace_between(doc, COV_BEGIN, COV_END, cov, a.doc)
    with open(a.doc, "w", encoding="utf-8") as f:
        f.write(doc)
    for w in warnings:
        print("make_table: warning: " + w, file=sys.stderr)
    print("make_table: wrote %s (%d warning%s)" % (a.doc, len(warnings),
                                                  "" if len(warnings) == 1 else "s"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
