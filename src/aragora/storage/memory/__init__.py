"""aragora.storage.memory: the in-process fake of every repository (tests, ``--memory`` runs)."""
