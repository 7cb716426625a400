"""Discord adapter: discord.py gateway client, `/papers` app commands, embed digests.

`render` is pure (Digest/Reply in, create-message bodies out); `adapter` holds the
client, the REST sends with nonces, and the interaction handling.
"""
