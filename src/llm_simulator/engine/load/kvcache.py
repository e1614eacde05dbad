"""The KV cache of one replica: fixed-size blocks, with an optional prefix cache.

Blocks are counted, not stored. A sequence holds *private* blocks (its own, freed when it
ends) and *shared* blocks (full prompt blocks registered under a prefix hash, reference
counted). With prefix caching on, a shared block whose last holder ends is not freed but
parked as *evictable* in least-recently-used order: a later request with the same prefix
takes it back without recomputing it; a request needing room evicts the oldest. That is
vLLM's automatic prefix caching at block granularity.
"""

from __future__ import annotations

from collections import OrderedDict


class KvCache:
    """Block accounting for one replica."""

    __slots__ = (
        "_evictable",
        "_refs",
        "block_size",
        "free_blocks",
        "hits",
        "lookups",
        "prefix_caching",
        "total_blocks",
    )

    def __init__(self, total_blocks: int, block_size: int = 16, prefix_caching: bool = False) -> None:
        if total_blocks < 1 or block_size < 1:
            raise ValueError("a KV cache needs at least one block of at least one token")
        self.total_blocks = total_blocks
        self.block_size = block_size
        self.prefix_caching = prefix_caching
        self.free_blocks = total_blocks  # neither held nor parked
        self._refs: dict[int, int] = {}  # prefix hash → holders (0: parked in _evictable)
        self._evictable: OrderedDict[int, None] = OrderedDict()
        # Prompt tokens looked up and found cached (the prefix-cache hit rate's two counters).
        self.lookups = 0
        self.hits = 0

    @property
    def available(self) -> int:
        """Blocks a new allocation can get: free ones plus cached ones nobody holds."""
        return self.free_blocks + len(self._evictable)

    @property
    def used(self) -> int:
        """Blocks held by running sequences (parked cached blocks count as free)."""
        return self.total_blocks - self.available

    def usage(self) -> float:
        """Fraction of blocks held by sequences (vLLM's ``kv_cache_usage_perc``, 0-1)."""
        return self.used / self.total_blocks

    def blocks_for(self, tokens: int) -> int:
        """Blocks that ``tokens`` tokens occupy."""
        return -(-tokens // self.block_size)

    def cached_prefix(self, hashes: tuple[int, ...]) -> int:
        """How many leading blocks of ``hashes`` are cached (held or parked); no side effect."""
        if not self.prefix_caching:
            return 0
        refs = self._refs
        count = 0
        for h in hashes:
            if h not in refs:
                break
            count += 1
        return count

    def parked_among(self, hashes: tuple[int, ...], blocks: int) -> int:
        """How many of the first ``blocks`` cached blocks of ``hashes`` are parked (acquiring them uses room)."""
        refs = self._refs
        return sum(1 for h in hashes[:blocks] if refs[h] == 0)

    def acquire_prefix(self, hashes: tuple[int, ...], blocks: int) -> None:
        """Take a reference on the first ``blocks`` cached blocks of ``hashes`` (they must be cached)."""
        refs = self._refs
        for h in hashes[:blocks]:
            if refs[h] == 0:
                del self._evictable[h]
            refs[h] += 1

    def note_lookup(self, prompt_tokens: int, hit_tokens: int) -> None:
        """Count one prefix lookup for the hit-rate metric."""
        self.lookups += prompt_tokens
        self.hits += hit_tokens

    def allocate(self, blocks: int) -> bool:
        """Take ``blocks`` private blocks, evicting parked cached blocks if needed; False if too few."""
        if blocks > self.available:
            return False
        short = blocks - self.free_blocks
        while short > 0:
            evicted, _ = self._evictable.popitem(last=False)
            del self._refs[evicted]
            self.free_blocks += 1
            short -= 1
        self.free_blocks -= blocks
        return True

    def register(self, block_hash: int) -> bool:
        """Turn one private block into a shared cached block under ``block_hash``.

        False (the block stays private) when caching is off or another sequence already
        registered that prefix.
        """
        if not self.prefix_caching or block_hash in self._refs:
            return False
        self._refs[block_hash] = 1
        return True

    def release(self, private: int, shared: tuple[int, ...] | list[int]) -> None:
        """Give back a sequence's blocks: private ones are freed, shared ones lose a holder."""
        self.free_blocks += private
        refs = self._refs
        # Tail first, as vLLM frees a request's blocks: parked in that order, a prefix's last
        # blocks are evicted before its first ones, which every later hit on it needs.
        for h in reversed(shared):
            left = refs[h] - 1
            refs[h] = left
            if left == 0:
                self._evictable[h] = None

    def invariant_errors(self, private_held: int, holders: dict[int, int]) -> list[str]:
        """What is wrong with the accounting, given what the sequences hold (empty: consistent).

        ``private_held`` is the sum of the holders' private blocks and ``holders`` counts, per
        prefix hash, the sequences holding a reference. Every block must be exactly one of
        free, private, shared (held) or evictable (parked), and reference counts must match.
        """
        errors: list[str] = []
        refs = self._refs
        shared = sum(1 for n in refs.values() if n > 0)
        parked = len(self._evictable)
        if self.free_blocks < 0 or private_held < 0:
            errors.append(f"negative count: free {self.free_blocks}, private {private_held}")
        if self.free_blocks + private_held + shared + parked != self.total_blocks:
            errors.append(
                f"free {self.free_blocks} + private {private_held} + shared {shared} + evictable "
                f"{parked} != total {self.total_blocks}"
            )
        for h, n in refs.items():
            if n < 0:
                errors.append(f"block {h} has a negative reference count {n}")
            elif n != holders.get(h, 0):
                errors.append(f"block {h} has {n} references but {holders.get(h, 0)} holders")
            elif (n == 0) != (h in self._evictable):
                errors.append(f"block {h} with {n} references is {'' if n else 'not '}parked")
        for h in holders:
            if h not in refs:
                errors.append(f"a sequence holds block {h}, which is not registered")
        for h in self._evictable:
            if h not in refs:
                errors.append(f"parked block {h} is not registered")
        return errors

    def clear_prefix_cache(self) -> None:
        """Forget every parked cached block (they become free)."""
        for h in self._evictable:
            del self._refs[h]
        self.free_blocks += len(self._evictable)
        self._evictable.clear()
