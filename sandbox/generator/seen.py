"""A fixed-size, deterministic "have we handed this out already?" filter.

Shopify refuses a second customer with the same email (case-insensitive) or the same E.164 phone,
so the generator must never repeat one. A Python set of a million strings would grow with the
store; this Bloom filter stays at a fixed size chosen from the store size. A false positive only
makes the generator pick another value, so it never breaks correctness, and it is deterministic
because the hash (blake2b) does not depend on PYTHONHASHSEED.
"""

from hashlib import blake2b


class SeenFilter:
    def __init__(self, expected: int) -> None:
        bits = 1 << 16
        while bits < expected * 64:
            bits <<= 1
        self._mask = bits - 1
        self._bits = bytearray(bits // 8)

    def _positions(self, value: str) -> tuple[int, int]:
        digest = int.from_bytes(blake2b(value.encode(), digest_size=8).digest(), "little")
        return digest & self._mask, (digest >> 32) & self._mask

    def __contains__(self, value: str) -> bool:
        bits = self._bits
        return all(bits[p >> 3] & (1 << (p & 7)) for p in self._positions(value))

    def add(self, value: str) -> None:
        bits = self._bits
        for p in self._positions(value):
            bits[p >> 3] |= 1 << (p & 7)

    def claim(self, value: str) -> bool:
        """Record `value` and say whether it was free."""
        if value in self:
            return False
        self.add(value)
        return True
