"""ferd's random streams, bit for bit: `SplitMix64` (Sources/FerdRandom) and the data pipeline's seeded streams
(`SeededRandom` and the `SplitMix64` extensions of FerdData). The loader draws every frame index, augmentation
parameter and shuffle from these, so the torch engine sees exactly the clips the Swift engine sees."""

MASK = (1 << 64) - 1
_GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_STREAM_SALT = 0x6A09E667F3BCC909
_INDEX_MULTIPLIER = 0xD1B54A32D192ED03


class SplitMix64:
    """The SplitMix64 generator with 64-bit wrapping arithmetic, as Swift's `SplitMix64`."""

    __slots__ = ("state",)

    def __init__(self, seed: int, index: "int | None" = None):
        """`SplitMix64(seed:)`, or with `index` `SplitMix64(seed:index:)`: item `index` of stream `seed`."""
        if index is None:
            self.state = seed & MASK
            return
        mixer = SplitMix64(seed ^ _STREAM_SALT)
        self.state = mixer.next() ^ ((index * _INDEX_MULTIPLIER) & MASK)
        self.state = self.next()

    def next(self) -> int:
        """The next 64-bit value."""
        self.state = (self.state + _GOLDEN_GAMMA) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform_double(self, low: float = 0.0, high: float = 1.0) -> float:
        """`uniformDouble()` (53 random bits in [0, 1)) or, with bounds, `uniformDouble(low, high)`."""
        return low + (high - low) * ((self.next() >> 11) * (1 / 9007199254740992.0))

    def integer_below(self, count: int) -> int:
        """`integer(below:)`: a uniform integer in 0..<count, count > 0."""
        if count <= 0:
            raise ValueError("integer_below needs a positive count")
        return min(int(self.uniform_double() * float(count)), count - 1)

    def integer_in(self, low: int, high: int) -> int:
        """`integer(in: low...high)`: a uniform integer with both ends included."""
        return low + self.integer_below(high - low + 1)

    def permutation(self, count: int) -> "list[int]":
        """`permutation(_:)`: Fisher–Yates over 0..<count from the last place down."""
        order = list(range(count))
        for i in range(count - 1, 0, -1):
            j = self.integer_below(i + 1)
            order[i], order[j] = order[j], order[i]
        return order


PURPOSE_SAMPLING = 0x5A4D1E00
PURPOSE_AUGMENTATION = 0xA06E0000
PURPOSE_SHUFFLE = 0x5AFF1E00


def generator(seed: int, purpose: int, epoch: int, clip: int) -> SplitMix64:
    """`SeededRandom.generator(seed:purpose:epoch:clip:)`: the stream of `purpose` (a `PURPOSE_*` constant) in
    `epoch` for the clip at position `clip` of the loader's clip list."""
    epoch_stream = SplitMix64(seed ^ purpose, epoch & MASK)
    return SplitMix64(epoch_stream.next(), clip & MASK)
