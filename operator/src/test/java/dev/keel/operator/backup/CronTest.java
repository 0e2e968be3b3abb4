package dev.keel.operator.backup;

import org.junit.jupiter.api.Test;

import java.time.ZonedDateTime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class CronTest {

    static ZonedDateTime t(String s) {
        return ZonedDateTime.parse(s);
    }

    @Test
    void nextFireTimes() {
        assertEquals(t("2026-01-01T03:00Z"), Cron.parse("0 3 * * *").next(t("2026-01-01T02:59:30Z")));
        assertEquals(t("2026-01-02T03:00Z"), Cron.parse("0 3 * * *").next(t("2026-01-01T03:00Z")));
        assertEquals(t("2026-01-01T00:15Z"), Cron.parse("*/15 * * * *").next(t("2026-01-01T00:00Z")));
        assertEquals(t("2026-01-01T10:30Z"), Cron.parse("30 9-17/1 * * *").next(t("2026-01-01T09:30Z")));
        // 2026-01-01 is a Thursday: next Sunday 4th, then Monday 5th for 1-5
        assertEquals(t("2026-01-04T00:00Z"), Cron.parse("@weekly").next(t("2026-01-01T12:00Z")));
        assertEquals(t("2026-01-04T00:00Z"), Cron.parse("0 0 * * 7").next(t("2026-01-01T12:00Z")));
        assertEquals(t("2026-01-02T06:00Z"), Cron.parse("0 6 * * 1-5").next(t("2026-01-01T12:00Z")));
        assertEquals(t("2026-02-01T00:00Z"), Cron.parse("@monthly").next(t("2026-01-01T00:00Z")));
        assertEquals(t("2028-02-29T00:00Z"), Cron.parse("0 0 29 2 *").next(t("2026-03-01T00:00Z")));
        // both day fields restricted: either matches (the 15th, or a Monday)
        assertEquals(t("2026-01-05T00:00Z"), Cron.parse("0 0 15 * 1").next(t("2026-01-01T00:00Z")));
    }

    @Test
    void rejectsBadExpressions() {
        assertThrows(IllegalArgumentException.class, () -> Cron.parse("0 3 * *"));
        assertThrows(IllegalArgumentException.class, () -> Cron.parse("60 * * * *"));
        assertThrows(IllegalArgumentException.class, () -> Cron.parse("0 0 31 2 *").next(t("2026-01-01T00:00Z")));
    }
}
