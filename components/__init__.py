"""labelloop components: a pure core (``core``), local/cloud backends (``backends``) and thin KFP wrappers."""

__version__ = "0.1.0"
