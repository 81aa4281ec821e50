"""kubectl-userns: is this pod really isolated, and is this node really ready?"""

__version__ = "0.1.0"
