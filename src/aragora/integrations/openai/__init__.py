"""The OpenAI chat API's shapes over Aragora's debates (``POST /v1/chat/completions``,
``GET /v1/models``): :mod:`.panels` maps a model name to a panel, :mod:`.chat` turns the
messages into a task and a settled debate into a completion or its stream of chunks.
Plain data in and out: the HTTP route lives in ``aragora.server.routes.openai``."""
