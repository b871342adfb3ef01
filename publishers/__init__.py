"""Tools that post into ticker through its public HTTP API."""
