package catalogstream.peer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.apache.avro.Conversions;
import org.apache.avro.Schema;
import org.apache.avro.data.TimeConversions;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Our topic's values as Avro single-object encoding (C3 01, the writer schema's CRC-64-AVRO
 * fingerprint, the body), read and written with Apache Avro's own message coders, as
 * tools/avro-java/DecodeSingleObject.java does: values of any known writer schema are resolved
 * to the newest one, with decimals and timestamps converted (the work our decoder does too).
 * A tombstone (null) stays null, so the KTable deletes the key.
 */
public final class SingleObjectAvroSerde implements Serde<GenericRecord> {
  private final BinaryMessageDecoder<GenericRecord> decoder;
  private final BinaryMessageEncoder<GenericRecord> encoder;

  /** {@code schemas} oldest first; the last one is the reader (and the store's writer) schema. */
  public SingleObjectAvroSerde(List<Schema> schemas) {
    GenericData model = new GenericData();
    model.addLogicalTypeConversion(new Conversions.DecimalConversion());
    model.addLogicalTypeConversion(new TimeConversions.TimestampMicrosConversion());
    Schema newest = schemas.get(schemas.size() - 1);
    decoder = new BinaryMessageDecoder<>(model, newest);
    for (Schema older : schemas.subList(0, schemas.size() - 1)) {
      decoder.addSchema(older);
    }
    encoder = new BinaryMessageEncoder<>(model, newest);
  }

  @Override
  public Serializer<GenericRecord> serializer() {
    return (topic, value) -> {
      if (value == null) {
        return null;
      }
      try {
        ByteBuffer buffer = encoder.encode(value);
        byte[] bytes = new byte[buffer.remaining()];
        buffer.get(bytes);
        return bytes;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    };
  }

  @Override
  public Deserializer<GenericRecord> deserializer() {
    return (topic, data) -> {
      if (data == null) {
        return null;
      }
      try {
        return decoder.decode(data);
      } catch (IOException e) {
        throw new SerializationException("not a product change we can read", e);
      }
    };
  }
}
