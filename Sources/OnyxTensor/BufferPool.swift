import Foundation

/// Reuses the memory of dead tensors for new ones: the run-time half of the memory planner.
///
/// While a run executes on a thread (`withCurrent`), every numeric `TensorStorage` of at least `minimumBytes`
/// allocated on that thread takes a free block of a fitting size from the pool, and gives it back when the
/// storage is freed (its last tensor, view or slot is gone — so a block is never reused while readable).
/// Blocks a run freed serve the next nodes of the same run and the next runs, so steady-state runs allocate
/// almost nothing and the memory held for intermediates stays near the largest live set.
///
/// Safety of `@unchecked Sendable`: all mutable state is guarded by `lock`.
public final class BufferPool: @unchecked Sendable {
    /// Smaller requests go to the system allocator (small tensors are cheap to allocate and often long-lived).
    public let minimumBytes: Int
    /// A free block serves a request of up to this factor smaller than itself (…/2 = 1.5×).
    static let slackNumerator = 3, slackDenominator = 2

    /// Counters since the pool was made (or since `resetCounters`).
    public struct Statistics: Sendable, Equatable {
        /// Blocks allocated from the system because no free block fitted.
        public var freshAllocations = 0
        /// Requests served by a free block.
        public var reusedAllocations = 0
        /// Bytes of blocks held by live tensors now.
        public var liveBytes = 0
        /// The most bytes of blocks held by live tensors at once.
        public var peakLiveBytes = 0
        /// Bytes of free blocks kept for reuse.
        public var cachedBytes = 0
    }

    private let lock = NSLock()
    /// Free blocks, sorted by capacity.
    private var free: [(capacity: Int, pointer: UnsafeMutableRawPointer)] = []
    private var stats = Statistics()

    public init(minimumBytes: Int = 4096) { self.minimumBytes = max(1, minimumBytes) }

    deinit { for b in free { b.pointer.deallocate() } }

    public var statistics: Statistics { lock.withLock { stats } }

    /// Zeroes the allocation counters (not the peak, not the cached blocks).
    public func resetCounters() {
        lock.withLock { stats.freshAllocations = 0; stats.reusedAllocations = 0 }
    }

    /// Frees the cached blocks.
    public func trim() {
        let blocks: [(capacity: Int, pointer: UnsafeMutableRawPointer)] = lock.withLock {
            defer { free = []; stats.cachedBytes = 0 }
            return free
        }
        for b in blocks { b.pointer.deallocate() }
    }

    /// A block of at least `byteCount` bytes (64-byte aligned) and its capacity.
    func take(_ byteCount: Int) -> (pointer: UnsafeMutableRawPointer, capacity: Int) {
        let need = (byteCount + 63) & ~63
        let reused: (capacity: Int, pointer: UnsafeMutableRawPointer)? = lock.withLock {
            var lo = 0, hi = free.count
            while lo < hi { let mid = (lo + hi) / 2; if free[mid].capacity < need { lo = mid + 1 } else { hi = mid } }
            if lo < free.count, free[lo].capacity * BufferPool.slackDenominator <= need * BufferPool.slackNumerator {
                let b = free.remove(at: lo)
                stats.cachedBytes -= b.capacity
                stats.reusedAllocations += 1
                stats.liveBytes += b.capacity
                stats.peakLiveBytes = max(stats.peakLiveBytes, stats.liveBytes)
                return b
            }
            stats.freshAllocations += 1
            stats.liveBytes += need
            stats.peakLiveBytes = max(stats.peakLiveBytes, stats.liveBytes)
            return nil
        }
        if let reused { return (reused.pointer, reused.capacity) }
        return (UnsafeMutableRawPointer.allocate(byteCount: need, alignment: 64), need)
    }

    /// Takes back a block from `take` whose storage died. Kept for reuse while the cache holds no more than twice
    /// the peak live bytes (a run's blocks do not all fit each other's sizes, so its footprint exceeds its peak
    /// live bytes; the bound keeps changing shapes from growing the cache without limit); beyond that it is freed.
    func give(_ pointer: UnsafeMutableRawPointer, capacity: Int) {
        let keep: Bool = lock.withLock {
            stats.liveBytes -= capacity
            guard stats.cachedBytes + capacity <= 2 * stats.peakLiveBytes else { return false }
            var lo = 0, hi = free.count
            while lo < hi { let mid = (lo + hi) / 2; if free[mid].capacity < capacity { lo = mid + 1 } else { hi = mid } }
            free.insert((capacity, pointer), at: lo)
            stats.cachedBytes += capacity
            return true
        }
        if !keep { pointer.deallocate() }
    }

    /// The pool of the run executing on this thread, if any.
    public static var current: BufferPool? {
        guard let p = pthread_getspecific(currentKey) else { return nil }
        return Unmanaged<BufferPool>.fromOpaque(p).takeUnretainedValue()
    }

    /// Runs `body` with this pool serving this thread's tensor allocations (restores the previous pool after).
    public func withCurrent<R>(_ body: () throws -> R) rethrows -> R {
        let previous = pthread_getspecific(currentKey)
        pthread_setspecific(currentKey, Unmanaged.passUnretained(self).toOpaque())
        defer { pthread_setspecific(currentKey, previous) }
        return try withExtendedLifetime(self) { try body() }
    }
}

/// The thread-specific slot holding the current pool (unretained; `withCurrent` keeps it alive).
private let currentKey: pthread_key_t = {
    var k = pthread_key_t()
    pthread_key_create(&k, nil)
    return k
}()
