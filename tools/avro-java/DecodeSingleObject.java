// Reads Avro single-object encoded values (one hex string per line on stdin) with Apache Avro's
// own BinaryMessageDecoder, which checks the C3 01 header and the CRC-64-AVRO fingerprint of the
// schema it is given. Prints each record as JSON, or "ERROR <reason>" for a value it refuses.
// Usage: java -cp 'lib/*' DecodeSingleObject.java READER.avsc [OLDER.avsc ...] < values.hex
// (values written with an older schema are resolved to the reader schema, as Avro specifies)
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.util.HexFormat;
import org.apache.avro.Conversions;
import org.apache.avro.Schema;
import org.apache.avro.data.TimeConversions;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;

public class DecodeSingleObject {
  public static void main(String[] args) throws Exception {
    Schema schema = new Schema.Parser().parse(new File(args[0]));
    GenericData model = new GenericData();
    model.addLogicalTypeConversion(new Conversions.DecimalConversion());
    model.addLogicalTypeConversion(new TimeConversions.TimestampMicrosConversion());
    BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<>(model, schema);
    for (int i = 1; i < args.length; i++) {
      decoder.addSchema(new Schema.Parser().parse(new File(args[i])));
    }
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    for (String line; (line = in.readLine()) != null; ) {
      try {
        System.out.println(decoder.decode(HexFormat.of().parseHex(line.trim())));
      } catch (Exception e) {
        System.out.println("ERROR " + e.getClass().getSimpleName() + ": " + e.getMessage());
      }
    }
  }
}
