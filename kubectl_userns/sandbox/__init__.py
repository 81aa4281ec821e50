"""A disposable local cluster: real namespaces, cgroups and sshd; an emulated API server."""
