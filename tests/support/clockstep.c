/* The wall clock of one process, stepped from outside, as an NTP step does it: CLOCK_REALTIME (and
 * gettimeofday, time) run ahead or behind by the whole seconds written in the file $CLOCKSTEP_FILE, which is
 * read again at most once a second; monotonic clocks, sleeps and timeouts are left alone. For the soak
 * benchmark (benchmarks/bench_soak.py builds it with gcc and LD_PRELOADs it into the kiosk's processes).
 *
 * Debian 12's libfaketime 0.9.10 cannot do this for Python 3.11: with the monotonic clock left alone, every
 * time.sleep fails with EINVAL (its clock_nanosleep with TIMER_ABSTIME:
 * https://github.com/wolfcw/libfaketime/issues/426), and with it faked, a step moves the monotonic clock too,
 * which no NTP step does.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static volatile long offset_s;
static volatile time_t read_at = -1;

static long offset(void) {
    struct timespec now;
    real_clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    if (now.tv_sec != read_at) {
        read_at = now.tv_sec;
        const char *path = getenv("CLOCKSTEP_FILE");
        FILE *f = path ? fopen(path, "re") : NULL;
        if (f) {
            long value;
            if (fscanf(f, "%ld", &value) == 1)
                offset_s = value;
            fclose(f);
        }
    }
    return offset_s;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    if (!real_clock_gettime)
        real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int result = real_clock_gettime(clock, ts);
    if (result == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE))
        ts->tv_sec += offset();
    return result;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    struct timespec ts;
    (void)tz;
    clock_gettime(CLOCK_REALTIME, &ts);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}

time_t time(time_t *t) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (t)
        *t = ts.tv_sec;
    return ts.tv_sec;
}
