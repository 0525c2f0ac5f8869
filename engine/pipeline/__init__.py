"""One turn, in order: intake -> attention -> context -> generate -> act -> commit."""
