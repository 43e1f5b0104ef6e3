"""Pure-Python HotSketch and hash, line by line as CAFE's rule reads (for the tests)."""
MASK = (1 << 64) - 1
GOLDEN = 0x9e3779b97f4a7c15


def mix64(x):
    x &= MASK
    x ^= x >> 30
    x = (x * 0xbf58476d1ce4e5b9) & MASK
    x ^= x >> 27
    x = (x * 0x94d049bb133111eb) & MASK
    x ^= x >> 31
    return x


def hrow(key, seed, n):
    h = mix64((key + seed * GOLDEN) & MASK)
    return ((h >> 32) * n) >> 32


class ReferenceSketch:
    def __init__(self, buckets, threshold, decay, decay_every, seed=0):
        self.b = [[] for _ in range(buckets)]          # per bucket: [key, count] in count order
        self.n, self.threshold, self.decay, self.every, self.seed = buckets, threshold, decay, decay_every, seed
        self.inserted = self.promotions = self.demotions = self.dropped = 0

    def insert(self, x):
        bucket = self.b[hrow(x, self.seed, self.n)]
        slot = next((s for s in bucket if s[0] == x), None)
        before = None
        if slot is not None:
            before = slot[1]
            slot[1] += 1.0
        elif len(bucket) < 4:
            before = 0.0
            slot = [x, 1.0]
            bucket.append(slot)
        elif bucket[-1][1] >= self.threshold:
            self.dropped += 1
        else:
            before = 0.0
            bucket[-1][0] = x
            bucket[-1][1] += 1.0
            slot = bucket[-1]
        if slot is not None:
            if before < self.threshold <= slot[1]:
                self.promotions += 1
            j = bucket.index(slot)
            while j > 0 and bucket[j][1] > bucket[j - 1][1]:
                bucket[j - 1], bucket[j] = bucket[j], bucket[j - 1]
                j -= 1
        self.inserted += 1
        if self.every and self.inserted % self.every == 0:
            for bk in self.b:
                for s in bk:
                    c = s[1]
                    s[1] = c * self.decay
                    if c >= self.threshold > s[1]:
                        self.demotions += 1

    def state(self):
        """(bucket, slot) -> (key, count) of the occupied slots."""
        return {(i, j): (s[0], s[1]) for i, bk in enumerate(self.b) for j, s in enumerate(bk)}
