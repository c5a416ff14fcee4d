package catalogstream.peer;

import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/**
 * Passes each record on to the table, then marks its offset as done: the table's put has
 * returned by then, so "caught up" means in the store. A REMOVED event is passed on as a
 * deletion (readers treat it like the tombstone that follows it), so the table holds what the
 * projector's view holds: the items that exist.
 */
final class Progress implements FixedKeyProcessor<String, GenericRecord, GenericRecord> {
  private final CaughtUp caughtUp;
  private FixedKeyProcessorContext<String, GenericRecord> context;

  Progress(CaughtUp caughtUp) {
    this.caughtUp = caughtUp;
  }

  @Override
  public void init(FixedKeyProcessorContext<String, GenericRecord> context) {
    this.context = context;
  }

  @Override
  public void process(FixedKeyRecord<String, GenericRecord> record) {
    GenericRecord value = record.value();
    if (value != null && "REMOVED".equals(String.valueOf(value.get("change_type")))) {
      context.forward(record.withValue(null));
    } else {
      context.forward(record);
    }
    RecordMetadata where = context.recordMetadata().orElseThrow();
    caughtUp.done(where.partition(), where.offset());
  }
}
