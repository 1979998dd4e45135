/**
 * A bounded queue of notifications waiting to be sent (a first attempt, or a retry after its backoff). Items
 * stay in the order they were created, retries included, so the oldest is the one dropped when the queue is
 * full: a receiver that is down for long loses the oldest news, never the newest. No I/O.
 */

export interface Queued {
  /** Creation order (never reused). */
  readonly seq: number;
  /** Not to be sent before this time (ms). */
  dueAt: number;
}

export interface BoundedQueue<T extends Queued> {
  /** Adds an item (a new one, or a retry put back); returns the item dropped to make room, if any. */
  push(item: T): T | null;
  /** Removes and returns the oldest item due at `now`, or null. */
  takeDue(now: number): T | null;
  /** The earliest due time of a waiting item, or null when empty. */
  nextDueAt(): number | null;
  /** Removes and returns everything. */
  drain(): T[];
  readonly size: number;
}

export function createBoundedQueue<T extends Queued>(limit: number): BoundedQueue<T> {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`queue limit must be an integer ≥ 1, got ${limit}`);
  const items: T[] = [];

  /** Index where an item of sequence `seq` belongs (items are sorted by seq). */
  function slot(seq: number): number {
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((items[mid] as T).seq < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  return {
    push(item) {
      items.splice(slot(item.seq), 0, item);
      return items.length > limit ? (items.shift() as T) : null;
    },
    takeDue(now) {
      const i = items.findIndex((x) => x.dueAt <= now);
      return i < 0 ? null : (items.splice(i, 1)[0] as T);
    },
    nextDueAt() {
      let min: number | null = null;
      for (const x of items) if (min === null || x.dueAt < min) min = x.dueAt;
      return min;
    },
    drain() {
      return items.splice(0, items.length);
    },
    get size() {
      return items.length;
    },
  };
}
