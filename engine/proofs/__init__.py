"""Proofs: Fr32, CommP/CommD, commitment CIDs, Merkle trees, a devnet seal, PoRep and PoSt."""
