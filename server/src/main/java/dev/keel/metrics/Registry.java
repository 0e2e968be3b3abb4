package dev.keel.metrics;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.DoubleSupplier;

/**
 * A small Prometheus registry: counters, gauges and histograms, each with or without labels, rendered in the text
 * exposition format 0.0.4 as Go's client_golang writes it (families sorted by name, series by label values,
 * numbers in Go's shortest {@code %g} form). Recording never takes a lock: counts are {@link LongAdder}s, sums
 * {@link DoubleAdder}s; labelled series are found in a concurrent map and created on first use.
 */
public final class Registry {

    /** One metric family: its name, type, help text and series. */
    private abstract static class Family {
        final String name;
        final String help;
        final String type;
        final String[] labelNames;

        Family(String name, String help, String type, String[] labelNames) {
            this.name = name;
            this.help = help;
            this.type = type;
            this.labelNames = labelNames;
        }

        abstract void render(StringBuilder out);

        String labels(List<String> values, String extraName, String extraValue) {
            if (labelNames.length == 0 && extraName == null) {
                return "";
            }
            StringBuilder b = new StringBuilder("{");
            for (int i = 0; i < labelNames.length; i++) {
                if (i > 0) {
                    b.append(',');
                }
                b.append(labelNames[i]).append("=\"").append(escapeLabel(values.get(i))).append('"');
            }
            if (extraName != null) {
                if (labelNames.length > 0) {
                    b.append(',');
                }
                b.append(extraName).append("=\"").append(extraValue).append('"');
            }
            return b.append('}').toString();
        }
    }

    /** A monotonically increasing count. */
    public static final class Counter {
        private final LongAdder value = new LongAdder();

        public void inc() {
            value.increment();
        }

        public void add(long n) {
            value.add(n);
        }

        public long get() {
            return value.sum();
        }
    }

    /** A value that goes up and down, set or adjusted by the recording code. */
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

    /** Observations counted in fixed buckets (upper bounds, seconds), with their sum and count. */
    public static final class Histogram {
        private final double[] bounds;
        private final LongAdder[] buckets; // per bucket, not cumulative; the last is +Inf
        private final DoubleAdder sum = new DoubleAdder();
        private final LongAdder count = new LongAdder();

        Histogram(double[] bounds) {
            this.bounds = bounds.clone();
            this.buckets = new LongAdder[bounds.length + 1];
            for (int i = 0; i < buckets.length; i++) {
                buckets[i] = new LongAdder();
            }
        }

        public void observe(double v) {
            int i = 0;
            while (i < bounds.length && v > bounds[i]) {
                i++;
            }
            buckets[i].increment();
            sum.add(v);
            count.increment();
        }

        /** Observes a duration given in nanoseconds, as seconds. */
        public void observeNanos(long nanos) {
            observe(nanos / 1e9);
        }

        public long count() {
            return count.sum();
        }

        public double sum() {
            return sum.sum();
        }
    }

    /** A family of series told apart by label values. */
    public static final class Labelled<T> {
        private final ConcurrentHashMap<List<String>, T> series = new ConcurrentHashMap<>();
        private final java.util.function.Supplier<T> factory;
        private final int arity;

        Labelled(int arity, java.util.function.Supplier<T> factory) {
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
            return t != null ? t : series.computeIfAbsent(key, k -> factory.get());
        }

        Map<List<String>, T> sorted() {
            Map<List<String>, T> out = new TreeMap<>((a, b) -> {
                for (int i = 0; i < a.size(); i++) {
                    int c = a.get(i).compareTo(b.get(i));
                    if (c != 0) {
                        return c;
                    }
                }
                return 0;
            });
            out.putAll(series);
            return out;
        }
    }

    private final Map<String, Family> families = new ConcurrentSkipListMap<>();

    // ---- registration --------------------------------------------------------------------------------------

    public Counter counter(String name, String help) {
        Counter c = new Counter();
        register(new Family(name, help, "counter", new String[0]) {
            @Override
            void render(StringBuilder out) {
                sample(out, name, "", c.get());
            }
        });
        return c;
    }

    public Gauge gauge(String name, String help) {
        Gauge g = new Gauge();
        register(new Family(name, help, "gauge", new String[0]) {
            @Override
            void render(StringBuilder out) {
                sample(out, name, "", g.get());
            }
        });
        return g;
    }

    /** A gauge read when scraped. Registering a name again replaces the earlier one. */
    public void gaugeFunction(String name, String help, DoubleSupplier value) {
        function(name, help, "gauge", value);
    }

    /** A counter kept elsewhere, read when scraped (e.g. the process's CPU time). */
    public void counterFunction(String name, String help, DoubleSupplier value) {
        function(name, help, "counter", value);
    }

    private void function(String name, String help, String type, DoubleSupplier value) {
        register(new Family(name, help, type, new String[0]) {
            @Override
            void render(StringBuilder out) {
                double v;
                try {
                    v = value.getAsDouble();
                } catch (RuntimeException e) {
                    return; // not available now: no sample, like a collector that fails
                }
                sample(out, name, "", v);
            }
        });
    }

    /** A gauge with one series, value 1, whose label carries the information (etcd_server_version and the like). */
    public void info(String name, String help, String label, String value) {
        register(new Family(name, help, "gauge", new String[]{label}) {
            @Override
            void render(StringBuilder out) {
                sample(out, name, labels(List.of(value), null, null), 1);
            }
        });
    }

    public Labelled<Counter> counter(String name, String help, String... labelNames) {
        Labelled<Counter> l = new Labelled<>(labelNames.length, Counter::new);
        register(new Family(name, help, "counter", labelNames) {
            @Override
            void render(StringBuilder out) {
                l.sorted().forEach((values, c) -> sample(out, name, labels(values, null, null), c.get()));
            }
        });
        return l;
    }

    public Histogram histogram(String name, String help, double[] buckets) {
        Histogram h = new Histogram(buckets);
        register(new Family(name, help, "histogram", new String[0]) {
            @Override
            void render(StringBuilder out) {
                long cumulative = 0;
                // read the buckets first: count and sum may then be a little ahead, never behind
                long[] per = new long[h.buckets.length];
                for (int i = 0; i < per.length; i++) {
                    per[i] = h.buckets[i].sum();
                }
                for (int i = 0; i < h.bounds.length; i++) {
                    cumulative += per[i];
                    sample(out, name + "_bucket", labels(List.of(), "le", goFloat(h.bounds[i])), cumulative);
                }
                cumulative += per[h.bounds.length];
                sample(out, name + "_bucket", labels(List.of(), "le", "+Inf"), cumulative);
                sample(out, name + "_sum", "", h.sum());
                sample(out, name + "_count", "", cumulative);
            }
        });
        return h;
    }

    private void register(Family f) {
        families.put(f.name, f);
    }

    // ---- exposition ----------------------------------------------------------------------------------------

    /** All families in the text format, version 0.0.4. */
    public String scrape() {
        StringBuilder out = new StringBuilder(16 * 1024);
        for (Family f : new ArrayList<>(families.values())) {
            StringBuilder body = new StringBuilder();
            f.render(body);
            if (body.length() == 0) {
                continue;
            }
            out.append("# HELP ").append(f.name).append(' ').append(escapeHelp(f.help)).append('\n');
            out.append("# TYPE ").append(f.name).append(' ').append(f.type).append('\n');
            out.append(body);
        }
        return out.toString();
    }

    private static void sample(StringBuilder out, String name, String labels, double value) {
        out.append(name).append(labels).append(' ').append(goFloat(value)).append('\n');
    }

    private static String escapeHelp(String s) {
        return s.replace("\\", "\\\\").replace("\n", "\\n");
    }

    private static String escapeLabel(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    /**
     * A number as client_golang writes it: Go's {@code strconv.FormatFloat(v, 'g', -1, 64)}, the shortest
     * representation, in exponent form when the decimal exponent is below -4 or at least 6 ({@code 0.001},
     * {@code 123456}, {@code 2.147483648e+09}, {@code 1e-05}).
     */
    static String goFloat(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "+Inf" : "-Inf";
        }
        if (v == 0) {
            return "0";
        }
        BigDecimal d = new BigDecimal(Double.toString(Math.abs(v))).stripTrailingZeros();
        String digits = d.unscaledValue().toString();
        int exp = digits.length() - 1 - d.scale(); // decimal exponent of the first digit
        StringBuilder b = new StringBuilder();
        if (v < 0) {
            b.append('-');
        }
        // Go's %g with the shortest precision: the exponent form when the exponent is below -4 or at least 6
        if (exp < -4 || exp >= 6) {
            b.append(digits.charAt(0));
            if (digits.length() > 1) {
                b.append('.').append(digits, 1, digits.length());
            }
            b.append('e').append(exp < 0 ? '-' : '+');
            int a = Math.abs(exp);
            if (a < 10) {
                b.append('0');
            }
            b.append(a);
        } else if (exp < 0) {
            b.append("0.");
            for (int i = -1; i > exp; i--) {
                b.append('0');
            }
            b.append(digits);
        } else if (digits.length() <= exp + 1) {
            b.append(digits);
            for (int i = digits.length(); i <= exp; i++) {
                b.append('0');
            }
        } else {
            b.append(digits, 0, exp + 1).append('.').append(digits, exp + 1, digits.length());
        }
        return b.toString();
    }
}
