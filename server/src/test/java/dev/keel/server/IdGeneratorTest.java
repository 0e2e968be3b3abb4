package dev.keel.server;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class IdGeneratorTest {

    @Test
    void layoutIsEtcdsMemberBitsTimeAndCounter() {
        // etcd: prefix = uint16(memberID) << 48, suffix = (unixMilli & (2^40-1)) << 8, Next() = prefix | ++suffix
        IdGenerator g = new IdGenerator(0xbdae9bbc11dd390dL, 0x0123_4567_89abL);
        assertEquals(0x390d_2345_6789_ab01L, g.next());
        assertEquals(0x390d_2345_6789_ab02L, g.next());
    }

    @Test
    void theCounterCarriesIntoTheTimeBytesButNeverIntoTheMemberBits() {
        IdGenerator g = new IdGenerator(0xffffL, 0xff_ffff_ffffL);
        long first = g.next();
        assertEquals(0xffff_ffff_ffff_ff01L, first);
        for (int i = 0; i < 254; i++) {
            g.next();
        }
        assertEquals(0xffff_0000_0000_0000L, g.next(), "the 48-bit suffix wraps within the member's range");
    }
}
