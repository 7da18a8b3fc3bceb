"""schemathesis hooks for scripts/check-boundary: the string formats the
generated server checks that schemathesis does not know, so that the data
it calls valid is valid by the document as the server reads it.

`ip` (progenitor's documents: an IPv4 or IPv6 address) is checked by the
server; left unknown, schemathesis would send any string as a valid one.
"""

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.format("ip", st.ip_addresses().map(str))
