"""The document as the generated server reads it, for schemathesis
(scripts/check-boundary): OpenAPI's integer formats are ranges
(`uint8` is 0 to 255), written as `minimum`/`maximum` so that the data
schemathesis calls valid fits them; and the operations the server leaves
out (listed by `cargo xtask mock-server`) are removed.

usage: boundary_document.py DOCUMENT MOCK_SERVER_JSON OUTPUT
"""

import json
import sys

import yaml

RANGES = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}


def bound(node):
    if isinstance(node, dict):
        if node.get("type") == "integer" and node.get("format") in RANGES:
            low, high = RANGES[node["format"]]
            node["minimum"] = max(node.get("minimum", low), low)
            node["maximum"] = min(node.get("maximum", high), high)
        for value in node.values():
            bound(value)
    elif isinstance(node, list):
        for value in node:
            bound(value)


def main():
    source, mock, output = sys.argv[1:4]
    with open(source, encoding="utf-8") as file:
        document = json.load(file) if source.endswith(".json") else yaml.safe_load(file)
    with open(mock, encoding="utf-8") as file:
        skipped = json.load(file)["skipped"]
    for method, path in skipped:
        operations = document.get("paths", {}).get(path, {})
        operations.pop(method.lower(), None)
    bound(document)
    with open(output, "w", encoding="utf-8") as file:
        json.dump(document, file)
    print(f"{source}: {len(skipped)} operation(s) the server leaves out removed, integer formats as ranges")


if __name__ == "__main__":
    main()
