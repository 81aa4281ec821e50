"""The sandbox's Kubernetes API emulator, one module per resource; :mod:`.server` serves them."""
