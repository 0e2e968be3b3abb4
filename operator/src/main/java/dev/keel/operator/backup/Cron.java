package dev.keel.operator.backup;

import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.BitSet;

/**
 * A five-field cron expression (minute hour day-of-month month day-of-week; {@code *}, lists, ranges, steps;
 * day-of-week 0-7 with 0 and 7 Sunday; {@code @hourly}, {@code @daily}, {@code @weekly}, {@code @monthly}).
 * As in cron, when both day fields are restricted a day matching either one fires.
 */
public final class Cron {

    private final BitSet minutes;
    private final BitSet hours;
    private final BitSet days;
    private final BitSet months;
    private final BitSet weekdays;
    private final boolean daysStar;
    private final boolean weekdaysStar;

    private Cron(String[] f) {
        minutes = field(f[0], 0, 59);
        hours = field(f[1], 0, 23);
        days = field(f[2], 1, 31);
        months = field(f[3], 1, 12);
        BitSet w = field(f[4], 0, 7);
        if (w.get(7)) {
            w.set(0);
        }
        weekdays = w;
        daysStar = f[2].equals("*");
        weekdaysStar = f[4].equals("*");
    }

    public static Cron parse(String expr) {
        String e = expr.strip();
        switch (e) {
            case "@hourly": e = "0 * * * *"; break;
            case "@daily": case "@midnight": e = "0 0 * * *"; break;
            case "@weekly": e = "0 0 * * 0"; break;
            case "@monthly": e = "0 0 1 * *"; break;
            default: break;
        }
        String[] f = e.split("\\s+");
        if (f.length != 5) {
            throw new IllegalArgumentException("cron needs 5 fields (minute hour day month weekday): " + expr);
        }
        return new Cron(f);
    }

    private static BitSet field(String text, int min, int max) {
        BitSet b = new BitSet();
        for (String part : text.split(",")) {
            int step = 1;
            String range = part;
            int slash = part.indexOf('/');
            if (slash >= 0) {
                step = Integer.parseInt(part.substring(slash + 1));
                range = part.substring(0, slash);
                if (step <= 0) {
                    throw new IllegalArgumentException("bad step in " + text);
                }
            }
            int lo;
            int hi;
            if (range.equals("*")) {
                lo = min;
                hi = max;
            } else if (range.contains("-")) {
                lo = Integer.parseInt(range.substring(0, range.indexOf('-')));
                hi = Integer.parseInt(range.substring(range.indexOf('-') + 1));
            } else {
                lo = Integer.parseInt(range);
                hi = slash >= 0 ? max : lo;
            }
            if (lo < min || hi > max || lo > hi) {
                throw new IllegalArgumentException("'" + part + "' out of range " + min + "-" + max);
            }
            for (int i = lo; i <= hi; i += step) {
                b.set(i);
            }
        }
        return b;
    }

    private boolean dayMatches(ZonedDateTime t) {
        boolean dom = days.get(t.getDayOfMonth());
        boolean dow = weekdays.get(t.getDayOfWeek().getValue() % 7);
        if (daysStar || weekdaysStar) {
            return dom && dow;
        }
        return dom || dow;
    }

    /** The first time strictly after {@code after} (to the minute) that matches; within 5 years. */
    public ZonedDateTime next(ZonedDateTime after) {
        ZonedDateTime t = after.truncatedTo(ChronoUnit.MINUTES).plusMinutes(1);
        ZonedDateTime limit = after.plusYears(5);
        while (t.isBefore(limit)) {
            if (!months.get(t.getMonthValue())) {
                t = t.withDayOfMonth(1).truncatedTo(ChronoUnit.DAYS).plusMonths(1);
                continue;
            }
            if (!dayMatches(t)) {
                t = t.truncatedTo(ChronoUnit.DAYS).plusDays(1);
                continue;
            }
            if (!hours.get(t.getHour())) {
                t = t.truncatedTo(ChronoUnit.HOURS).plusHours(1);
                continue;
            }
            if (!minutes.get(t.getMinute())) {
                t = t.plusMinutes(1);
                continue;
            }
            return t;
        }
        throw new IllegalArgumentException("cron expression never fires");
    }
}
