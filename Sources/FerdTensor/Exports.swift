/// The thread settings and parallel loops are part of the engine's API (`Threading.setCount`).
@_exported import FerdSystem
