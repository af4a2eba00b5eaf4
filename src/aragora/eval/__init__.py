"""Evaluation: does debate beat voting at equal compute? (``aragora eval``)

Suites (:mod:`.suites`), answer extraction (:mod:`.extract`), the runs through the debate
service (:mod:`.runner`, :mod:`.service`), resumable results (:mod:`.store`), statistics
(:mod:`.stats`), the report and plot (:mod:`.report`, :mod:`.plot`). A face, like the CLI
and the server: it runs debates through :class:`~aragora.runtime.service.DebateService`,
never the engine directly. Simulated agents (``sim:...``) live in :mod:`aragora.agents.demo.sim`.
"""
