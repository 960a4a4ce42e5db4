// The shuffle-heavy Spark job every Spark test and benchmark of spotguard runs.
//
//   spark-submit --class spotguard.ShuffleJob shuffle-job.jar MAPS REDUCES MAP_MS REDUCE_MS RECORDS
//
// A map stage of MAPS tasks, each sleeping MAP_MS and then writing RECORDS (key, payload)
// records, 100-byte payloads spread evenly over REDUCES keys; a shuffle (partitionBy, no
// map-side combine, so every record crosses it) into REDUCES partitions, each task of which
// fetches its block from every map output, checksums it and sleeps REDUCE_MS; then a collect.
// The data is a pure function of the arguments, so every run prints the same result line:
//
//   ShuffleJob maps=12 reduces=12 records=24000 bytes=2400000 checksum=...
//
// Shuffle map output lives in the executors (spark.shuffle.service.enabled is forced off), so
// losing an executor loses its map outputs unless it was decommissioned and migrated them.
package spotguard;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.HashPartitioner;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaSparkContext;
import scala.Tuple2;

public final class ShuffleJob {
  private static final int PAYLOAD_BYTES = 100;

  private ShuffleJob() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 5) {
      System.err.println(
          "usage: ShuffleJob <maps> <reduces> <mapMillis> <reduceMillis> <recordsPerMap>");
      System.exit(2);
    }
    final int maps = Integer.parseInt(args[0]);
    final int reduces = Integer.parseInt(args[1]);
    final long mapMillis = Long.parseLong(args[2]);
    final long reduceMillis = Long.parseLong(args[3]);
    final int recordsPerMap = Integer.parseInt(args[4]);
    if (maps < 1 || reduces < 1 || mapMillis < 0 || reduceMillis < 0 || recordsPerMap < 0) {
      System.err.println("ShuffleJob: maps and reduces must be >= 1, the rest >= 0");
      System.exit(2);
    }

    SparkConf conf = new SparkConf()
        .setAppName("spotguard-shuffle-job")
        .set("spark.shuffle.service.enabled", "false")
        .set("spark.dynamicAllocation.enabled", "false");
    try (JavaSparkContext sc = new JavaSparkContext(conf)) {
      List<Integer> mapIds = new ArrayList<>();
      for (int m = 0; m < maps; m++) mapIds.add(m);

      JavaPairRDD<Integer, byte[]> records = sc.parallelize(mapIds, maps)
          .mapPartitionsToPair(ids -> {
            List<Tuple2<Integer, byte[]>> out = new ArrayList<>();
            while (ids.hasNext()) {
              int m = ids.next();
              Thread.sleep(mapMillis);
              for (int r = 0; r < recordsPerMap; r++) {
                out.add(new Tuple2<>((m * recordsPerMap + r) % reduces, payload(m, r)));
              }
            }
            return out.iterator();
          });

      List<long[]> perReduce = records
          .partitionBy(new HashPartitioner(reduces))
          .mapPartitions((Iterator<Tuple2<Integer, byte[]>> it) -> {
            long count = 0, bytes = 0, sum = 0;
            while (it.hasNext()) {
              Tuple2<Integer, byte[]> kv = it.next();
              count++;
              bytes += kv._2().length;
              // Order-independent: blocks arrive from the maps in any order.
              sum += mix(kv._1(), kv._2());
            }
            Thread.sleep(reduceMillis);
            List<long[]> one = new ArrayList<>();
            one.add(new long[] {count, bytes, sum});
            return one.iterator();
          })
          .collect();

      long count = 0, bytes = 0, checksum = 0;
      for (long[] r : perReduce) {
        count += r[0];
        bytes += r[1];
        checksum += r[2];
      }
      System.out.printf("ShuffleJob maps=%d reduces=%d records=%d bytes=%d checksum=%016x%n",
          maps, reduces, count, bytes, checksum);
    }
  }

  // The payload of map m's record r: 100 printable bytes, a pure function of (m, r).
  private static byte[] payload(int m, int r) {
    byte[] p = new byte[PAYLOAD_BYTES];
    long x = (((long) m) << 32) ^ r ^ 0x9E3779B97F4A7C15L;
    for (int i = 0; i < PAYLOAD_BYTES; i++) {
      x ^= x << 13;
      x ^= x >>> 7;
      x ^= x << 17;
      p[i] = (byte) ('!' + (int) Math.floorMod(x, 94L));
    }
    return p;
  }

  private static long mix(int key, byte[] payload) {
    long h = 1469598103934665603L ^ key;
    for (byte b : payload) h = (h ^ b) * 1099511628211L;
    return h;
  }
}
