"""WOO X: request signing, the REST connector, and the private stream."""
