"""aragora.records: what Aragora stores, as plain records and small Protocols.

``debates`` (debates, events, leases, tokens, settings, ratings, receipts and the
``Storage`` bundle), ``knowledge`` (the Knowledge Mound) and ``webhooks`` (endpoints and
the delivery outbox). They import only ``debate`` and ``errors``: the runtime, knowledge
and receipts are typed against them, and ``aragora.storage`` implements them.
"""
