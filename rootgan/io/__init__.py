"""ROOT in (uproot, chunked) and, later, out. Knows nothing about networks."""
