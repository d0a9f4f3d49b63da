#!/usr/bin/env python3
"""Refuse a dxctl plan that destroys a BGP peer not named in an allow-list.

    dxctl plan --json CONFIG_DIR > plan.json
    python3 check_plan.py plan.json allow.txt     # or: dxctl plan --json DIR | python3 check_plan.py - allow.txt

A change destroys a peer when its `actions` contain "delete": a delete, or either order of a replacement
(["create","delete"], ["delete","create"]). The allow-list has one entry a line: a full peer address
(virtual_interface.<vif>.bgp_peer.<label>) or a label (the address's last component, on any VIF). Blank lines
and text after `#` are ignored.

Exit 0: nothing destroyed outside the list. Exit 1: one line a violation on stdout, naming the address.
Exit 2: a file cannot be read, or is not a dxctl plan (format_version 1.x) -- including the config-error document
`plan --json` prints when the configuration does not load. Python 3.11, standard library only.
"""

import json
import sys

LABEL_SEP = ".bgp_peer."


def fail(message):
    print(f"check_plan: {message}", file=sys.stderr)
    sys.exit(2)


def read_text(path):
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        fail(f"cannot read {path}: {e}")


def load_plan(path):
    try:
        plan = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        fail(f"{path} is not JSON: {e}")
    if not isinstance(plan, dict):
        fail(f"{path} is not a dxctl plan: not a JSON object")
    version = plan.get("format_version")
    if not isinstance(version, str) or version.split(".")[0] != "1":
        fail(f"{path} is not a dxctl plan of format_version 1.x (format_version: {version!r})")
    if "errors" in plan and "changes" not in plan:
        fail(f"{path} holds config errors, not a plan: {len(plan['errors'])} error(s)")
    changes = plan.get("changes")
    if not isinstance(changes, list) or not all(
        isinstance(c, dict) and isinstance(c.get("address"), str) and isinstance(c.get("actions"), list)
        for c in changes
    ):
        fail(f"{path} is not a dxctl plan: `changes` is not a list of changes with address and actions")
    return plan


def load_allowed(path):
    allowed = set()
    for line in read_text(path).splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            allowed.add(entry)
    return allowed


def label(address):
    return address.rsplit(LABEL_SEP, 1)[1] if LABEL_SEP in address else address


def describe(change):
    actions = change["actions"]
    if actions == ["create", "delete"]:
        what = "replaced (create before destroy)"
    elif actions == ["delete", "create"]:
        what = "replaced (destroy before create)"
    else:
        what = "deleted"
    forces = change.get("forces_replacement") or []
    if forces:
        what += f", forced by {', '.join(forces)}"
    before = change.get("before") or {}
    if before.get("bgp_peer_id"):
        what = f"{before['bgp_peer_id']} {what}"
    if change.get("deposed"):
        what = f"deposed peer {what}"
    return what


def violations(plan, allowed):
    for change in plan["changes"]:
        if "delete" not in change["actions"]:
            continue
        address = change["address"]
        if address in allowed or label(address) in allowed:
            continue
        yield (
            f"refused: {address}: {describe(change)}; "
            f"neither the address nor its label {label(address)} is in the allow-list"
        )


def main(argv):
    if len(argv) != 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    plan = load_plan(argv[1])
    allowed = load_allowed(argv[2])
    found = list(violations(plan, allowed))
    for line in found:
        print(line)
    if found:
        print(f"check_plan: {len(found)} peer(s) destroyed outside the allow-list", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
