package catalogstream.peer;

import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * Catch-up of a Kafka Streams KTable over the product topic, for the projector benchmark.
 *
 * <p>Captures the topic's end offsets, then materialises the latest value per key (Avro decoded,
 * REMOVED events and tombstones deleting the key) into a persistent RocksDB store, and stops once
 * every record before those end offsets is in the store. The close (cache flushed into RocksDB,
 * offsets committed) counts as part of the catch-up, as the projector's figure counts records
 * committed to its store. Prints one line: {@code PEER {json}}.
 *
 * <p>Usage: {@code java -cp 'target/kstreams-peer.jar:target/lib/*' catalogstream.peer.CatchUp
 * --bootstrap HOST:PORT --topic NAME --state-dir DIR [--threads 1] [--timeout-s 7200]
 * SCHEMA.avsc...} (schemas oldest first; the newest is the reader schema).
 */
public final class CatchUp {
  static final String STORE = "latest-products";

  private CatchUp() {}

  public static void main(String[] argv) throws Exception {
    Map<String, String> options = new HashMap<>();
    List<Schema> schemas = new ArrayList<>();
    for (int i = 0; i < argv.length; i++) {
      if (argv[i].startsWith("--")) {
        options.put(argv[i].substring(2), argv[++i]);
      } else {
        schemas.add(new Schema.Parser().parse(new File(argv[i])));
      }
    }
    String bootstrap = require(options, "bootstrap");
    String topic = require(options, "topic");
    if (schemas.isEmpty()) {
      throw new IllegalArgumentException("give the schema files, oldest first");
    }
    long timeoutMs = TimeUnit.SECONDS.toMillis(Long.parseLong(options.getOrDefault("timeout-s", "7200")));

    CaughtUp caughtUp = endOffsets(bootstrap, topic);

    Properties config = new Properties();
    config.put(StreamsConfig.APPLICATION_ID_CONFIG, "catalog-stream-peer-" + UUID.randomUUID());
    config.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.put(StreamsConfig.STATE_DIR_CONFIG, require(options, "state-dir"));
    config.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, options.getOrDefault("threads", "1"));
    // Only committed records, as every consumer of ours reads (KafkaConnection.consumer_options):
    // at-least-once leaves the consumers at read_uncommitted, which hands out a transaction's
    // records before its end, and aborted ones for good. (Streams lets at-least-once set it.)
    config.put(
        StreamsConfig.consumerPrefix(ConsumerConfig.ISOLATION_LEVEL_CONFIG), "read_committed");
    // Everything else is Kafka Streams' default (at-least-once, 10 MB record cache, RocksDB).

    SingleObjectAvroSerde values = new SingleObjectAvroSerde(schemas);
    StreamsBuilder builder = new StreamsBuilder();
    builder.stream(topic, Consumed.with(Serdes.String(), values))
        .processValues(() -> new Progress(caughtUp), Named.as("progress"))
        .toTable(
            Named.as("latest"),
            Materialized.<String, GenericRecord, KeyValueStore<Bytes, byte[]>>as(STORE)
                .withKeySerde(Serdes.String())
                .withValueSerde(values)
                // The topic is compacted and is the store's backup, as for a KTable read with
                // builder.table() and topology.optimization=all: no second copy in a changelog.
                .withLoggingDisabled());

    KafkaStreams streams = new KafkaStreams(builder.build(config), config);
    streams.setUncaughtExceptionHandler(e -> StreamThreadExceptionResponse.SHUTDOWN_CLIENT);
    long deadline = System.currentTimeMillis() + timeoutMs;
    streams.start();
    try {
      while (!caughtUp.await(200)) {
        KafkaStreams.State state = streams.state();
        if (state == KafkaStreams.State.ERROR
            || state == KafkaStreams.State.PENDING_ERROR
            || state == KafkaStreams.State.NOT_RUNNING
            || state == KafkaStreams.State.PENDING_SHUTDOWN) {
          throw new IllegalStateException("Kafka Streams stopped before catching up: " + state);
        }
        if (System.currentTimeMillis() > deadline) {
          throw new IllegalStateException("not caught up within the timeout; " + caughtUp);
        }
      }
      long caughtUpAtMs = System.currentTimeMillis();
      long keys = countKeys(streams); // not timed: a check that every key is in the store
      long closeStarted = System.nanoTime();
      streams.close(Duration.ofMinutes(5));
      double closeSeconds = (System.nanoTime() - closeStarted) / 1e9;
      System.out.printf(
          Locale.ROOT, // a decimal point whatever the machine's locale: the line is JSON
          "PEER {\"records\": %d, \"keys\": %d, \"expected_records\": %d, \"jvm_started_ms\": %d,"
              + " \"first_record_ms\": %d, \"caught_up_ms\": %d, \"close_s\": %.3f, \"peak_rss_mb\": %.1f}%n",
          caughtUp.records(),
          keys,
          caughtUp.expected(),
          ManagementFactory.getRuntimeMXBean().getStartTime(),
          caughtUp.firstAtMs(),
          caughtUpAtMs,
          closeSeconds,
          peakRssMb());
    } catch (Exception e) {
      streams.close(Duration.ofSeconds(30));
      throw e;
    }
  }

  private static String require(Map<String, String> options, String name) {
    String value = options.get(name);
    if (value == null) {
      throw new IllegalArgumentException("--" + name + " is required");
    }
    return value;
  }

  /** The topic's first and (committed) end offsets per partition, now: "caught up" means. */
  private static CaughtUp endOffsets(String bootstrap, String topic) throws Exception {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      int partitions =
          admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
      Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
      Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
      for (int p = 0; p < partitions; p++) {
        earliest.put(new TopicPartition(topic, p), OffsetSpec.earliest());
        latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
      }
      var first = admin.listOffsets(earliest).all().get();
      // The end a read_committed consumer reaches: the last stable offset (the high watermark
      // unless a transaction is open; records past it are not handed out until it ends).
      var committed = new ListOffsetsOptions(IsolationLevel.READ_COMMITTED);
      var end = admin.listOffsets(latest, committed).all().get();
      long[] begin = new long[partitions];
      long[] stop = new long[partitions];
      for (int p = 0; p < partitions; p++) {
        TopicPartition tp = new TopicPartition(topic, p);
        begin[p] = first.get(tp).offset();
        stop[p] = end.get(tp).offset();
      }
      return new CaughtUp(begin, stop);
    }
  }

  /** The process's peak resident set (heap, RocksDB's native memory, everything), in MiB. */
  private static double peakRssMb() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmHWM:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
      }
    }
    return 0;
  }

  private static long countKeys(KafkaStreams streams) throws InterruptedException {
    for (int attempt = 0; ; attempt++) {
      try {
        ReadOnlyKeyValueStore<String, GenericRecord> store =
            streams.store(
                StoreQueryParameters.fromNameAndType(STORE, QueryableStoreTypes.keyValueStore()));
        long keys = 0;
        try (KeyValueIterator<String, GenericRecord> all = store.all()) {
          while (all.hasNext()) {
            KeyValue<String, GenericRecord> ignored = all.next();
            keys++;
          }
        }
        return keys;
      } catch (org.apache.kafka.streams.errors.InvalidStateStoreException e) {
        if (attempt >= 50) {
          throw e;
        }
        Thread.sleep(100);
      }
    }
  }
}
