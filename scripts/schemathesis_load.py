"""Loads the OpenAPI document with schemathesis and checks every operation
can produce test cases (a document schemathesis cannot read fails here)."""

import sys

import schemathesis

schema = schemathesis.openapi.from_path(sys.argv[1])
operations = []
for result in schema.get_all_operations():
    operation = result.ok()
    strategy = operation.as_strategy()
    operations.append(operation.label)
if not operations:
    sys.exit("schemathesis found no operation")
print("schemathesis loaded:", ", ".join(operations))
