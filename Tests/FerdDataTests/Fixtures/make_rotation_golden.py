"""Prints the golden values of AugmentationTests.testRotationMatchesPIL (run with Pillow installed).

Each case rotates a mode-'I' image whose pixel i holds i + 1 with Image.rotate(angle, NEAREST), so the
result names the source pixel of every output pixel (-1 for the zero fill); the test compares the
FNV-1a 64 hash of those int32 source indices (little endian) and the number of filled pixels.
"""
from PIL import Image

for w, h, angle in [(32, 32, 4.0), (17, 13, -3.3), (112, 112, 2.71828)]:
    image = Image.new("I", (w, h))
    image.putdata([i + 1 for i in range(w * h)])
    sources = [v - 1 for v in image.rotate(angle, resample=Image.NEAREST).getdata()]
    digest = 0xCBF29CE484222325
    for v in sources:
        for byte in int(v).to_bytes(4, "little", signed=True):
            digest = ((digest ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    print(f"({w}, {h}, {angle}, 0x{digest:016X}, {sum(v < 0 for v in sources)}),")
