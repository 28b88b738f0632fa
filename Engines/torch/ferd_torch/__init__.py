"""ferd's PyTorch training engine: trains one ferd trial on a GPU (or CPU) when `ferd worker --engine torch`
spawns it, speaking the engine contract of docs/ENGINES.md on stdin/stdout."""

__version__ = "0.1.0"
CONTRACT_VERSION = 1
