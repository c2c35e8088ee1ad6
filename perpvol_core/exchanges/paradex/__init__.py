"""Paradex: Starknet (SNIP-12) signing and JWTs, the REST connector, and the private stream."""
