"""Cryptographic building blocks: password hashing now; CMS, XML signatures, timestamps later."""
