#!/usr/bin/env python3
"""Check OCSF Detection Findings, one JSON object a line, against a JSON Schema.

    python3 .ci/validate-ocsf.py SCHEMA.json FILE.jsonl

Each line must be valid by the schema (draft 2020-12, as the vendored
detector/ocsftest/testdata/detection_finding-1.8.0.schema.json), and each
observable must name an attribute that holds its value, as the Go tests check.
Prints every problem; exits 1 if there is one. Needs jsonschema 4.0 or newer.
"""
import json
import sys

import jsonschema


def holds(v, path, value):
    if isinstance(v, list):
        return any(holds(e, path, value) for e in v)
    if isinstance(v, dict):
        return bool(path) and path[0] in v and holds(v[path[0]], path[1:], value)
    return not path and isinstance(v, str) and v == value


def message(e):
    profile = e.schema.get("x-ocsf-missing-profile") if isinstance(e.schema, dict) else None
    return "added by the %r profile, which metadata.profiles does not name" % profile if profile else e.message


def main(schema_path, events_path):
    with open(schema_path) as f:
        validator = jsonschema.Draft202012Validator(json.load(f))
    problems = lines = 0
    with open(events_path) as f:
        for n, line in enumerate(f, 1):
            lines += 1
            event = json.loads(line)
            found = ["/".join(map(str, e.absolute_path)) + ": " + message(e) for e in validator.iter_errors(event)]
            found += ["observables[%d]: %r holds no value %r" % (i, o.get("name"), o.get("value"))
                      for i, o in enumerate(event.get("observables", []))
                      if not holds(event, o.get("name", "").split("."), o.get("value"))]
            for p in found:
                print("%s:%d: %s" % (events_path, n, p))
            problems += len(found)
    print("%d events, %d problems" % (lines, problems))
    return 1 if problems or not lines else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
