"""The HTTP + WebSocket face of Aragora (FastAPI on uvicorn): routes parse, call the
debate service, and render; no business logic lives here.

``aragora.server.app.create_app`` builds the application; ``aragora.server.main.serve``
runs it (``aragora serve``)."""
