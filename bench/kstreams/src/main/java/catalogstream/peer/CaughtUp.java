package catalogstream.peer;

import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Which partitions have been read up to the end offsets captured at start. Records of one
 * partition arrive in offset order on one stream thread; the latch opens when the last
 * partition reaches its end. Assumes the last offset before the end is a record (the preload
 * writes no transactions, and nothing is compacted within min.compaction.lag.ms).
 */
final class CaughtUp {
  private final long[] ends;
  private final long expected;
  private final boolean[] finished;
  private final CountDownLatch open;
  private final AtomicLong records = new AtomicLong();
  private final AtomicLong firstAtMs = new AtomicLong();

  CaughtUp(long[] begin, long[] ends) {
    this.ends = ends.clone();
    this.finished = new boolean[ends.length];
    long total = 0;
    int waiting = 0;
    for (int p = 0; p < ends.length; p++) {
      total += ends[p] - begin[p];
      finished[p] = ends[p] <= begin[p];
      waiting += finished[p] ? 0 : 1;
    }
    this.expected = total;
    this.open = new CountDownLatch(waiting);
  }

  void done(int partition, long offset) {
    if (records.getAndIncrement() == 0) {
      firstAtMs.set(System.currentTimeMillis());
    }
    synchronized (finished) {
      if (!finished[partition] && offset + 1 >= ends[partition]) {
        finished[partition] = true;
        open.countDown();
      }
    }
  }

  boolean await(long millis) throws InterruptedException {
    return open.await(millis, TimeUnit.MILLISECONDS);
  }

  long records() {
    return records.get();
  }

  /** When the first record was in the store (epoch ms): the end of start-up, 0 before. */
  long firstAtMs() {
    return firstAtMs.get();
  }

  long expected() {
    return expected;
  }

  @Override
  public String toString() {
    return "read " + records.get() + " of " + expected + " records; ends " + Arrays.toString(ends);
  }
}
