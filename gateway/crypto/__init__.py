"""Cryptographic building blocks: password hashing, the gateway's keys, RFC 3161 timestamps,
signed XML receipts and CMS encryption of replies."""
