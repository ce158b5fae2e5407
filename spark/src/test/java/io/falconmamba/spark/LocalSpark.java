package io.falconmamba.spark;

import org.apache.spark.sql.SparkSession;

/** A small local Spark for tests and the benchmark: no UI, few shuffle partitions, the driver on loopback. */
final class LocalSpark {

    private LocalSpark() {}

    static SparkSession start(String master, String name) {
        return SparkSession.builder()
                .master(master)
                .appName(name)
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .getOrCreate();
    }
}
