package dev.keel.metrics;

import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.Timer;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import io.prometheus.client.CollectorRegistry;
import io.prometheus.client.exporter.common.TextFormat;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.DoubleSupplier;
import java.util.function.Function;

/**
 * The member's metrics as Micrometer meters in a {@link PrometheusMeterRegistry}, named so that the Prometheus
 * text exposition (version 0.0.4) carries etcd's names exactly: counters are registered under their full
 * {@code _total} name (the Prometheus naming convention keeps it and adds nothing), histograms are distribution
 * summaries under their full {@code _seconds} name, without a base unit, with etcd's buckets as service level
 * objectives and no percentile histogram.
 *
 * <p>The registry is created here, when the member starts (before Quarkus does), so that nothing counted
 * during startup is lost. Its {@link CollectorRegistry} is handed to Quarkus as the one its own Prometheus
 * registry uses (see {@code dev.keel.api.MicrometerSetup}), so the JVM and process meters of Quarkus's binders
 * land in the same exposition; {@link #scrape()} renders both.
 *
 * <p>Recording never looks anything up: the handles below keep their Micrometer meter; labelled series are found
 * in a concurrent map and created on first use (callers on hot paths keep the series they got).
 */
public final class Registry {

    /** A monotonically increasing count. */
    public static final class Counter {
        private final io.micrometer.core.instrument.Counter counter;

        Counter(io.micrometer.core.instrument.Counter counter) {
            this.counter = counter;
        }

        public void inc() {
            counter.increment();
        }

        public void add(long n) {
            counter.increment(n);
        }

        public long get() {
            return (long) counter.count();
        }
    }

    /**
     * A count exported under a name without the {@code _total} suffix (etcd's {@code etcd_server_health_success}
     * and the like). simpleclient appends {@code _total} to every counter family in the text format, so these
     * families are written untyped, which keeps etcd's name (Prometheus treats untyped samples like gauges; rate()
     * and increase() work on them).
     */
    public static final class RawCounter {
        private final LongAdder value = new LongAdder();

        public void inc() {
            value.increment();
        }

        public long get() {
            return value.sum();
        }
    }

    /** A value that goes up and down, set or adjusted by the recording code (read by a Micrometer gauge). */
    public static final class Gauge {
        private final LongAdder value = new LongAdder();

        public void inc() {
            value.increment();
        }

        public void dec() {
            value.decrement();
        }

        public void add(long n) {
            value.add(n);
        }

        public long get() {
            return value.sum();
        }
    }

    /**
     * Durations counted in fixed buckets (upper bounds in seconds), with their sum and count. Backed by a
     * Micrometer Timer, which keeps nanoseconds: a DistributionSummary rounds every value up to a whole number
     * before bucketing, which would put every sub-second latency into the first bucket above 1.
     */
    public static final class Histogram {
        private final Timer timer;

        Histogram(Timer timer) {
            this.timer = timer;
        }

        /** Observes a duration given in seconds. */
        public void observe(double seconds) {
            timer.record((long) (seconds * 1e9), TimeUnit.NANOSECONDS);
        }

        /** Observes a duration given in nanoseconds. */
        public void observeNanos(long nanos) {
            timer.record(nanos, TimeUnit.NANOSECONDS);
        }

        public long count() {
            return timer.count();
        }

        public double sum() {
            return timer.totalTime(TimeUnit.SECONDS);
        }
    }

    /** A family of series told apart by label values. */
    public static final class Labelled<T> {
        private final ConcurrentHashMap<List<String>, T> series = new ConcurrentHashMap<>();
        private final Function<String[], T> factory;
        private final int arity;

        Labelled(int arity, Function<String[], T> factory) {
            this.arity = arity;
            this.factory = factory;
        }

        /** The series with these label values (in the order of the label names), created on first use. */
        public T labels(String... values) {
            if (values.length != arity) {
                throw new IllegalArgumentException("expected " + arity + " label values");
            }
            List<String> key = List.of(values);
            T t = series.get(key);
            return t != null ? t : series.computeIfAbsent(key, k -> factory.apply(values.clone()));
        }
    }

    private final CollectorRegistry collectors = new CollectorRegistry(true);
    private final PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT,
            collectors, Clock.SYSTEM);
    /** Meters registered by name through the function methods, so registering a name again replaces them. */
    private final Map<String, Meter> functions = new ConcurrentHashMap<>();
    private final Map<String, Object> keepAlive = new ConcurrentHashMap<>();

    /** The Micrometer registry the meters live in. */
    public PrometheusMeterRegistry meterRegistry() {
        return meters;
    }

    /** The Prometheus collector registry behind {@link #meterRegistry()}, shared with Quarkus's registry. */
    public CollectorRegistry collectorRegistry() {
        return collectors;
    }

    // ---- registration --------------------------------------------------------------------------------------

    public Counter counter(String name, String help) {
        return new Counter(io.micrometer.core.instrument.Counter.builder(name).description(help).register(meters));
    }

    /** A {@link RawCounter}: etcd's name as is, written untyped (see there). */
    public RawCounter rawCounter(String name, String help) {
        RawCounter c = new RawCounter();
        new io.prometheus.client.Collector() {
            @Override
            public List<MetricFamilySamples> collect() {
                return List.of(new MetricFamilySamples(name, Type.UNKNOWN, help, List.of(
                        new MetricFamilySamples.Sample(name, List.of(), List.of(), c.get()))));
            }
        }.register(collectors);
        return c;
    }

    public Gauge gauge(String name, String help) {
        Gauge g = new Gauge();
        io.micrometer.core.instrument.Gauge.builder(name, g, Gauge::get).description(help).strongReference(true)
                .register(meters);
        return g;
    }

    /**
     * A gauge read when scraped. Registering a name again replaces the earlier one. A supplier that throws reads
     * as NaN.
     */
    public void gaugeFunction(String name, String help, DoubleSupplier value) {
        replace(name, () -> io.micrometer.core.instrument.Gauge.builder(name, value, Registry::read)
                .description(help).strongReference(true).register(meters));
    }

    /** A counter kept elsewhere, read when scraped (e.g. the process's CPU time). */
    public void counterFunction(String name, String help, DoubleSupplier value) {
        // a function counter holds its object weakly: keepAlive holds it strongly while the meter is registered
        replace(name, () -> {
            keepAlive.put(name, value);
            return FunctionCounter.builder(name, value, Registry::read).description(help).register(meters);
        });
    }

    /**
     * One series of a labelled gauge read when scraped ({@code labels}: name, value, name, value...). Registering
     * the same name and labels again replaces the earlier one.
     */
    public void gaugeFunction(String name, String help, DoubleSupplier value, String... labels) {
        replace(name + Tags.of(labels), () -> io.micrometer.core.instrument.Gauge.builder(name, value, Registry::read)
                .description(help).tags(labels).strongReference(true).register(meters));
    }

    /** A gauge with one series, value 1, whose label carries the information (etcd_server_version and the like). */
    public void info(String name, String help, String label, String value) {
        replace(name, () -> io.micrometer.core.instrument.Gauge.builder(name, () -> 1).description(help)
                .tag(label, value).strongReference(true).register(meters));
    }

    /** A value read at scrape time, NaN when it cannot be read now (no exception breaks a scrape). */
    private static double read(DoubleSupplier value) {
        try {
            return value.getAsDouble();
        } catch (RuntimeException e) {
            return Double.NaN;
        }
    }

    private synchronized void replace(String name, java.util.function.Supplier<Meter> register) {
        Meter old = functions.remove(name);
        if (old != null) {
            meters.remove(old);
            keepAlive.remove(name);
        }
        functions.put(name, register.get());
    }

    public Labelled<Counter> counter(String name, String help, String... labelNames) {
        String[] keys = labelNames.clone();
        return new Labelled<>(keys.length, values -> {
            String[] kv = new String[keys.length * 2];
            for (int i = 0; i < keys.length; i++) {
                kv[2 * i] = keys[i];
                kv[2 * i + 1] = values[i];
            }
            return new Counter(io.micrometer.core.instrument.Counter.builder(name).description(help)
                    .tags(Tags.of(kv)).register(meters));
        });
    }

    /** A latency histogram; {@code name} must end in "_seconds" (the Prometheus registry adds that suffix). */
    public Histogram histogram(String name, String help, double[] buckets) {
        if (!name.endsWith("_seconds")) {
            throw new IllegalArgumentException("latency histograms are named *_seconds: " + name);
        }
        Duration[] slos = new Duration[buckets.length];
        for (int i = 0; i < buckets.length; i++) {
            slos[i] = Duration.ofNanos(Math.round(buckets[i] * 1e9));
        }
        return new Histogram(Timer.builder(name.substring(0, name.length() - "_seconds".length()))
                .description(help)
                .serviceLevelObjectives(slos)
                .minimumExpectedValue(slos[0])
                .maximumExpectedValue(slos[slos.length - 1])
                .publishPercentileHistogram(false)
                .register(meters));
    }

    /** A family of latency histograms told apart by label values (as {@link #histogram(String, String, double[])}). */
    public Labelled<Histogram> histogram(String name, String help, double[] buckets, String... labelNames) {
        if (!name.endsWith("_seconds")) {
            throw new IllegalArgumentException("latency histograms are named *_seconds: " + name);
        }
        String[] keys = labelNames.clone();
        Duration[] slos = new Duration[buckets.length];
        for (int i = 0; i < buckets.length; i++) {
            slos[i] = Duration.ofNanos(Math.round(buckets[i] * 1e9));
        }
        return new Labelled<>(keys.length, values -> {
            String[] kv = new String[keys.length * 2];
            for (int i = 0; i < keys.length; i++) {
                kv[2 * i] = keys[i];
                kv[2 * i + 1] = values[i];
            }
            return new Histogram(Timer.builder(name.substring(0, name.length() - "_seconds".length()))
                    .description(help)
                    .tags(Tags.of(kv))
                    .serviceLevelObjectives(slos)
                    .minimumExpectedValue(slos[0])
                    .maximumExpectedValue(slos[slos.length - 1])
                    .publishPercentileHistogram(false)
                    .register(meters));
        });
    }

    // ---- exposition ----------------------------------------------------------------------------------------

    /**
     * Every metric family of the collector registry (these meters and those Quarkus's binders registered) in the
     * text format, version 0.0.4.
     */
    public String scrape() {
        return meters.scrape(TextFormat.CONTENT_TYPE_004);
    }
}
