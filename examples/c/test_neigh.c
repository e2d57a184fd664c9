/* test_neigh: checks the C API of libneigh.a from C.
 *
 *   test_neigh self
 *       No kernel, no mirror: sizes and formats a map in this process's memory, writes
 *       and looks up IPv4/IPv6 entries, joins it a second time read-only by pointer, and
 *       checks the error codes for NULL pointers, a misaligned or too-small region, an
 *       unformatted region, a bad or missing map name and writes through a read-only
 *       handle.
 *
 *   test_neigh check MAP_NAME TIMEOUT_MS < expectations
 *       Joins the named map (as a running mirror publishes it) read-only and checks one
 *       expectation per stdin line, retrying each until TIMEOUT_MS has passed (the mirror
 *       applies kernel events asynchronously):
 *         IFINDEX ADDR STATE MAC   entry present with NUD state STATE (hex) and MAC
 *                                  (aa:bb:..), or MAC "-" for an unresolved entry
 *         IFINDEX ADDR absent      no entry
 *
 *   test_neigh serve MAP_NAME
 *       Runs a mirror through the C API in the current network namespace: creates it,
 *       steps it once with neigh_mirror_poll, checks a neigh_mirror_map handle, prints
 *       "ready", then neigh_mirror_run until SIGTERM/SIGINT, and destroys it.
 *
 *   test_neigh watch MAP_NAME IFINDEX < commands
 *       Joins the named map read-only once and keeps that handle for its whole run, as a
 *       data plane does across mirror restarts, answering one command per stdin line:
 *         churn ADDR...             IPv4 addresses (on IFINDEX) whose entries, when found
 *                                   with a MAC 02:xx:A:B:C:D, must carry their own
 *                                   address in A:B:C:D: looked up at every round, a
 *                                   mismatch is a torn read
 *         expect ADDR MAC TIMEOUT_MS  looks ADDR up (and the churn set) until it has MAC;
 *                                   prints "seen ADDR MS" or "timeout ADDR (map's view)"
 *         status                    prints neigh_map_status on one line
 *       Between commands it looks the churn set up over and over. At the end of input
 *       prints "watch: R rounds, T torn, B busy, F failures"; exit
 *       status 0 when nothing was torn and every expectation was met.
 *
 *   test_neigh hammer MAP_NAME IFINDEX
 *       Joins the named map read-write, prints "hammering", then inserts and removes
 *       entries for 10.8.X.Y on IFINDEX (MAC 02:00:0a:08:X:Y) as fast as it can until
 *       killed: a writer to kill in the middle of a write.
 *
 *   test_neigh request MAP_NAME IFINDEX ADDR TIMEOUT_MS
 *       Joins the map read-write, expects ADDR to be absent, posts a resolution request,
 *       and waits until the mirror has the kernel create the entry (any state).
 *
 * Prints one line per failed check; exit status 0 when all passed, 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "neigh.h"

static int failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

#define CHECK_RC(expr, want)                                                           \
    do {                                                                               \
        int rc_ = (expr);                                                              \
        if (rc_ != (want)) {                                                           \
            fprintf(stderr, "%s:%d: %s returned %d (%s), want %d (%s)\n", __FILE__,    \
                    __LINE__, #expr, rc_, neigh_strerror(rc_), (want),                 \
                    neigh_strerror(want));                                             \
            failures++;                                                                \
        }                                                                              \
    } while (0)

static uint32_t ip4(const char *text)
{
    uint32_t a = 0;
    if (inet_pton(AF_INET, text, &a) != 1)
        abort();
    return a;
}

static int self_test(void)
{
    size_t align = neigh_map_align();
    size_t need = neigh_map_footprint(1000);
    CHECK(align == 64);
    CHECK(need >= 1000 * 64 && need % align == 0);
    CHECK(neigh_map_footprint(1) > 0 && neigh_map_footprint(1) <= need);

    /* Twice the footprint, so misaligned and too-small views stay inside the buffer. */
    uint8_t *mem = aligned_alloc(align, 2 * need);
    CHECK(mem != NULL);
    if (!mem)
        return 1;

    neigh_map *map = (neigh_map *)1; /* must be reset to NULL on failure */
    CHECK_RC(neigh_map_format(mem, need - 64, 1000, 7, &map), NEIGH_ERANGE);
    CHECK(map == NULL);
    CHECK(strlen(neigh_last_error()) > 0);
    CHECK_RC(neigh_map_format(mem + 8, need, 1000, 7, &map), NEIGH_EINVAL);
    CHECK_RC(neigh_map_format(NULL, need, 1000, 7, &map), NEIGH_EFAULT);
    CHECK_RC(neigh_map_format(mem, need, 1000, 7, NULL), NEIGH_EFAULT);
    memset(mem, 0, need); /* not a map yet */
    CHECK_RC(neigh_map_join(mem, need, NEIGH_READ_ONLY, &map), NEIGH_EBADMSG);

    CHECK_RC(neigh_map_format(mem, need, 1000, 0x1234567, &map), NEIGH_OK);
    CHECK(map != NULL);
    CHECK(neigh_map_len(map) == 0);
    CHECK(neigh_map_capacity(map) >= 2000);

    neigh_entry e = {.mac = {0x02, 0, 0, 0, 0, 0x01}, .state = 0x80, .flags = 0x80,
                     .resolved = 1, .generation = 1};
    neigh_entry pending = {.state = 0x01, .resolved = 0};
    neigh_entry out;
    uint8_t v6[16];
    CHECK(inet_pton(AF_INET6, "2001:db8::1", v6) == 1);

    CHECK_RC(neigh_map_lookup4(map, 2, ip4("10.0.0.1"), &out), NEIGH_ABSENT);
    CHECK_RC(neigh_map_upsert4(map, 2, ip4("10.0.0.1"), &e), NEIGH_INSERTED);
    CHECK_RC(neigh_map_upsert4(map, 2, ip4("10.0.0.1"), &e), NEIGH_UPDATED);
    CHECK_RC(neigh_map_upsert6(map, 2, v6, &pending), NEIGH_INSERTED);
    CHECK_RC(neigh_map_upsert4(map, 0, ip4("10.0.0.2"), &e), NEIGH_EINVAL);
    CHECK(neigh_map_len(map) == 2);

    memset(&out, 0xff, sizeof out);
    CHECK_RC(neigh_map_lookup4(map, 2, ip4("10.0.0.1"), &out), NEIGH_FOUND);
    CHECK(memcmp(out.mac, e.mac, 6) == 0 && out.resolved == 1);
    CHECK(out.state == 0x80 && out.flags == 0x80 && out.generation == 1 && out.reserved == 0);
    CHECK_RC(neigh_map_lookup4(map, 3, ip4("10.0.0.1"), &out), NEIGH_ABSENT);
    CHECK_RC(neigh_map_lookup6(map, 2, v6, &out), NEIGH_FOUND);
    CHECK(out.resolved == 0 && out.state == 0x01);

    /* Bursts: one call, a result per key, entries written for the ones found. */
    {
        uint32_t ifx[3] = {2, 3, 2};
        uint32_t ips[3] = {ip4("10.0.0.1"), ip4("10.0.0.1"), ip4("10.0.0.9")};
        uint8_t v6s[3][16];
        memcpy(v6s[0], v6, 16);
        memcpy(v6s[1], v6, 16);
        memcpy(v6s[2], v6, 16);
        v6s[2][15] ^= 1;
        neigh_entry outs[3];
        int rcs[3];
        memset(outs, 0xff, sizeof outs);
        CHECK_RC(neigh_map_lookup4_burst(map, 3, ifx, ips, outs, rcs), 1);
        CHECK(rcs[0] == NEIGH_FOUND && rcs[1] == NEIGH_ABSENT && rcs[2] == NEIGH_ABSENT);
        CHECK(memcmp(outs[0].mac, e.mac, 6) == 0 && outs[0].resolved == 1);
        CHECK(outs[1].reserved == 0xff); /* not found: untouched */
        CHECK_RC(neigh_map_lookup6_burst(map, 3, ifx, &v6s[0][0], outs, rcs), 1);
        CHECK(rcs[0] == NEIGH_FOUND && rcs[1] == NEIGH_ABSENT && rcs[2] == NEIGH_ABSENT);
        CHECK(outs[0].resolved == 0 && outs[0].state == 0x01);
        CHECK_RC(neigh_map_lookup4_burst(map, 3, NULL, ips, outs, rcs), NEIGH_EFAULT);
    }

    /* A second, read-only handle on the same memory sees the writes and refuses its own. */
    neigh_map *ro = NULL;
    CHECK_RC(neigh_map_join(mem, need, NEIGH_READ_ONLY, &ro), NEIGH_OK);
    CHECK_RC(neigh_map_lookup4(ro, 2, ip4("10.0.0.1"), &out), NEIGH_FOUND);
    CHECK_RC(neigh_map_upsert4(ro, 2, ip4("10.0.0.9"), &e), NEIGH_EROFS);
    CHECK_RC(neigh_map_remove4(ro, 2, ip4("10.0.0.1")), NEIGH_EROFS);
    CHECK_RC(neigh_map_request_resolve4(ro, 2, ip4("10.0.0.9")), NEIGH_ENOTSUP);
    CHECK_RC(neigh_map_join(mem, need - 64, NEIGH_READ_ONLY, &ro), NEIGH_ERANGE);
    CHECK(ro == NULL);
    CHECK_RC(neigh_map_join(mem + 64, need, NEIGH_READ_ONLY, &ro), NEIGH_EBADMSG);
    CHECK_RC(neigh_map_join(mem + 4, need, NEIGH_READ_ONLY, &ro), NEIGH_EINVAL);
    CHECK_RC(neigh_map_join(mem, need, 42, &ro), NEIGH_EINVAL);

    /* NULL and misaligned arguments on the data path. */
    CHECK_RC(neigh_map_lookup4(NULL, 2, ip4("10.0.0.1"), &out), NEIGH_EFAULT);
    CHECK_RC(neigh_map_lookup4(map, 2, ip4("10.0.0.1"), NULL), NEIGH_EFAULT);
    CHECK_RC(neigh_map_lookup6(map, 2, NULL, &out), NEIGH_EFAULT);
    CHECK_RC(neigh_map_lookup4(map, 2, ip4("10.0.0.1"), (neigh_entry *)((char *)&out + 1)),
             NEIGH_EINVAL);
    CHECK_RC(neigh_map_upsert4(map, 2, ip4("10.0.0.1"), NULL), NEIGH_EFAULT);
    CHECK(neigh_map_len(NULL) == 0);

    /* Names. */
    CHECK_RC(neigh_map_join_shm("neigh-test-no-such-map", NEIGH_READ_ONLY, &ro), NEIGH_ENOENT);
    CHECK(strstr(neigh_last_error(), "neigh-test-no-such-map") != NULL);
    CHECK_RC(neigh_map_join_shm("../etc/passwd", NEIGH_READ_ONLY, &ro), NEIGH_EINVAL);
    CHECK_RC(neigh_map_join_shm("", NEIGH_READ_ONLY, &ro), NEIGH_EINVAL);
    CHECK_RC(neigh_map_join_shm(NULL, NEIGH_READ_ONLY, &ro), NEIGH_EFAULT);

    /* Removes. */
    CHECK_RC(neigh_map_remove4(map, 2, ip4("10.0.0.1")), NEIGH_REMOVED);
    CHECK_RC(neigh_map_remove4(map, 2, ip4("10.0.0.1")), NEIGH_ABSENT);
    CHECK_RC(neigh_map_remove6(map, 2, v6), NEIGH_REMOVED);
    CHECK_RC(neigh_map_lookup6(map, 2, v6, &out), NEIGH_ABSENT);
    CHECK(neigh_map_len(map) == 0);

    /* Every code has a description. */
    const int codes[] = {NEIGH_OK, NEIGH_EPERM, NEIGH_ENOENT, NEIGH_EIO, NEIGH_EAGAIN,
                         NEIGH_ENOMEM, NEIGH_EACCES, NEIGH_EFAULT, NEIGH_EBUSY, NEIGH_ENODEV,
                         NEIGH_EINVAL,
                         NEIGH_ENOSPC, NEIGH_EROFS, NEIGH_ERANGE, NEIGH_EBADMSG,
                         NEIGH_EOVERFLOW, NEIGH_EPROTONOSUPPORT, NEIGH_ENOTSUP,
                         NEIGH_EUCLEAN, NEIGH_ENOTRECOVERABLE};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = neigh_strerror(codes[i]);
        CHECK(s != NULL && strlen(s) > 0 && strcmp(s, "unknown error") != 0);
    }
    CHECK(strcmp(neigh_strerror(-9999), "unknown error") == 0);

    neigh_map_leave(ro);
    neigh_map_leave(map);
    neigh_map_leave(NULL);
    free(mem);
    printf("self: %s (%d failures)\n", failures ? "FAILED" : "ok", failures);
    return failures != 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned b[6];
    if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)b[i];
    return 0;
}

/* One expectation; returns 1 when the map agrees now, and describes the map's view. */
static int matches(const neigh_map *map, unsigned ifindex, const char *addr, const char *state,
                   const char *mac, char *seen, size_t seen_len)
{
    uint32_t v4;
    uint8_t v6[16];
    neigh_entry e;
    int rc;
    if (inet_pton(AF_INET, addr, &v4) == 1)
        rc = neigh_map_lookup4(map, ifindex, v4, &e);
    else if (inet_pton(AF_INET6, addr, v6) == 1)
        rc = neigh_map_lookup6(map, ifindex, v6, &e);
    else {
        snprintf(seen, seen_len, "bad address in expectation");
        return 0;
    }
    if (rc != NEIGH_FOUND) {
        snprintf(seen, seen_len, "%s", rc == NEIGH_ABSENT ? "absent" : neigh_strerror(rc));
        return rc == NEIGH_ABSENT && strcmp(state, "absent") == 0;
    }
    snprintf(seen, seen_len, "state 0x%x mac %02x:%02x:%02x:%02x:%02x:%02x resolved %u",
             e.state, e.mac[0], e.mac[1], e.mac[2], e.mac[3], e.mac[4], e.mac[5], e.resolved);
    if (strcmp(state, "absent") == 0 || strtoul(state, NULL, 16) != e.state)
        return 0;
    if (strcmp(mac, "-") == 0)
        return e.resolved == 0;
    uint8_t want[6];
    return parse_mac(mac, want) == 0 && e.resolved && memcmp(want, e.mac, 6) == 0;
}

static int check(const char *name, double timeout_ms)
{
    neigh_map *map = NULL;
    int rc = neigh_map_join_shm(name, NEIGH_READ_ONLY, &map);
    if (rc != NEIGH_OK) {
        fprintf(stderr, "join %s: %s (%s)\n", name, neigh_strerror(rc), neigh_last_error());
        return 1;
    }
    char line[256];
    int checked = 0;
    double deadline = now_ms() + timeout_ms;
    while (fgets(line, sizeof line, stdin)) {
        unsigned ifindex;
        char addr[64], state[16], mac[32] = "-";
        int n = sscanf(line, "%u %63s %15s %31s", &ifindex, addr, state, mac);
        if (n < 3)
            continue;
        char seen[128];
        while (!matches(map, ifindex, addr, state, mac, seen, sizeof seen)) {
            if (now_ms() > deadline) {
                fprintf(stderr, "mismatch: if %u %s: want %s %s, map has %s\n", ifindex, addr,
                        state, mac, seen);
                failures++;
                break;
            }
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        checked++;
    }
    neigh_map_leave(map);
    printf("check: %d expectations, %d failures\n", checked, failures);
    return failures != 0 || checked == 0;
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int serve(const char *name)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    neigh_mirror *m = NULL;
    CHECK_RC(neigh_mirror_poll(NULL, 0), NEIGH_EFAULT);
    CHECK_RC(neigh_mirror_create("bad/name", 0, &m), NEIGH_EINVAL);
    CHECK(m == NULL);
    int rc = neigh_mirror_create(name, 4096, &m);
    if (rc != NEIGH_OK) {
        fprintf(stderr, "mirror %s: %s (%s)\n", name, neigh_strerror(rc), neigh_last_error());
        return 1;
    }
    CHECK(neigh_mirror_poll(m, 0) >= 0);
    CHECK_RC(neigh_mirror_poll(m, -1), NEIGH_EINVAL);
    neigh_map *map = NULL;
    CHECK_RC(neigh_mirror_map(m, NEIGH_READ_ONLY, &map), NEIGH_OK);
    CHECK(neigh_map_capacity(map) >= 8192);
    neigh_map_leave(map);
    printf("ready\n");
    fflush(stdout);
    rc = neigh_mirror_run(m, (const int *)&stop_flag);
    CHECK_RC(rc, NEIGH_OK);
    neigh_mirror_destroy(m);
    printf("serve: %d failures\n", failures);
    return failures != 0;
}

#define MAX_CHURN 4096
static uint32_t churn[MAX_CHURN];
static size_t n_churn;
static long rounds, torn, busy;

/* One lookup of every churn address: counts torn reads (a MAC of another address). */
static void churn_round(const neigh_map *map, unsigned ifindex)
{
    for (size_t i = 0; i < n_churn; i++) {
        neigh_entry e;
        int rc = neigh_map_lookup4(map, ifindex, churn[i], &e);
        if (rc == NEIGH_EBUSY)
            busy++;
        if (rc != NEIGH_FOUND || !e.resolved || e.mac[0] != 2)
            continue;
        if (memcmp(&e.mac[2], &churn[i], 4) != 0) {
            char text[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &churn[i], text, sizeof text);
            fprintf(stderr, "torn: %s has %02x:%02x:%02x:%02x:%02x:%02x\n", text, e.mac[0],
                    e.mac[1], e.mac[2], e.mac[3], e.mac[4], e.mac[5]);
            torn++;
        }
    }
    rounds++;
}

static void print_status(const neigh_map *map)
{
    neigh_status st;
    int rc = neigh_map_status(map, &st);
    if (rc != NEIGH_OK) {
        printf("status error %s\n", neigh_strerror(rc));
        failures++;
        return;
    }
    printf("status state=%u stale=%u superseded=%u poisoned=%u pid=%llu claims=%llu "
           "generation=%llu entries=%llu capacity=%llu resyncs=%llu\n",
           st.state, st.stale, st.superseded, st.poisoned, (unsigned long long)st.writer_pid,
           (unsigned long long)st.claims, (unsigned long long)st.generation,
           (unsigned long long)st.entries, (unsigned long long)st.capacity,
           (unsigned long long)st.resyncs);
}

/* Reads the next stdin line into `line` (NUL-terminated, newline kept), doing churn
 * rounds while none has come; 0 at the end of input. Reads with read(2), not stdio, so
 * that poll(2) sees every byte not yet taken. */
static int next_line(const neigh_map *map, unsigned ifindex, char *line, size_t len)
{
    static char buf[65536];
    static size_t have;
    static int eof;
    for (;;) {
        char *nl = memchr(buf, '\n', have);
        if (nl || (eof && have > 0) || have == sizeof buf) {
            size_t n = nl ? (size_t)(nl - buf) + 1 : have;
            size_t copy = n < len - 1 ? n : len - 1;
            memcpy(line, buf, copy);
            line[copy] = '\0';
            memmove(buf, buf + n, have - n);
            have -= n;
            return 1;
        }
        if (eof)
            return 0;
        struct pollfd fd = {.fd = STDIN_FILENO, .events = POLLIN};
        if (poll(&fd, 1, 1) == 0) {
            churn_round(map, ifindex);
            continue;
        }
        ssize_t got = read(STDIN_FILENO, buf + have, sizeof buf - have);
        if (got <= 0)
            eof = 1;
        else
            have += (size_t)got;
    }
}

static int watch(const char *name, unsigned ifindex)
{
    neigh_map *map = NULL;
    int rc = neigh_map_join_shm(name, NEIGH_READ_ONLY, &map);
    if (rc != NEIGH_OK) {
        fprintf(stderr, "join %s: %s (%s)\n", name, neigh_strerror(rc), neigh_last_error());
        return 1;
    }
    CHECK_RC(neigh_map_status(map, NULL), NEIGH_EFAULT);
    CHECK_RC(neigh_map_status(NULL, NULL), NEIGH_EFAULT);
    char line[65536];
    while (next_line(map, ifindex, line, sizeof line)) {
        char *save = NULL;
        char *cmd = strtok_r(line, " \n", &save);
        if (!cmd)
            continue;
        if (strcmp(cmd, "churn") == 0) {
            for (char *a; (a = strtok_r(NULL, " \n", &save)) && n_churn < MAX_CHURN;)
                if (inet_pton(AF_INET, a, &churn[n_churn]) == 1)
                    n_churn++;
        } else if (strcmp(cmd, "status") == 0) {
            print_status(map);
        } else if (strcmp(cmd, "expect") == 0) {
            char *addr = strtok_r(NULL, " \n", &save);
            char *mac = strtok_r(NULL, " \n", &save);
            char *ms = strtok_r(NULL, " \n", &save);
            uint32_t a;
            uint8_t want[6];
            if (!addr || !mac || !ms || inet_pton(AF_INET, addr, &a) != 1 ||
                parse_mac(mac, want) != 0) {
                printf("bad expect\n");
                failures++;
            } else {
                double start = now_ms(), limit = atof(ms);
                for (;;) {
                    churn_round(map, ifindex);
                    neigh_entry e;
                    memset(&e, 0, sizeof e);
                    int got = neigh_map_lookup4(map, ifindex, a, &e);
                    if (got == NEIGH_FOUND && e.resolved && memcmp(e.mac, want, 6) == 0) {
                        printf("seen %s %.0f\n", addr, now_ms() - start);
                        break;
                    }
                    if (now_ms() - start > limit) {
                        printf("timeout %s (%s, mac %02x:%02x:%02x:%02x:%02x:%02x)\n", addr,
                               neigh_strerror(got), e.mac[0], e.mac[1], e.mac[2], e.mac[3],
                               e.mac[4], e.mac[5]);
                        failures++;
                        break;
                    }
                    struct timespec ts = {0, 1000 * 1000};
                    nanosleep(&ts, NULL);
                }
            }
        } else {
            printf("unknown command %s\n", cmd);
            failures++;
        }
        churn_round(map, ifindex);
        fflush(stdout);
    }
    neigh_map_leave(map);
    printf("watch: %ld rounds, %ld torn, %ld busy, %d failures\n", rounds, torn, busy, failures);
    return failures != 0 || torn != 0;
}

static int hammer(const char *name, unsigned ifindex)
{
    neigh_map *map = NULL;
    int rc = neigh_map_join_shm(name, NEIGH_READ_WRITE, &map);
    if (rc != NEIGH_OK) {
        fprintf(stderr, "join %s: %s (%s)\n", name, neigh_strerror(rc), neigh_last_error());
        return 1;
    }
    printf("hammering\n");
    fflush(stdout);
    for (uint32_t x = 1;; x = x * 1103515245u + 12345u) {
        uint32_t low = (x >> 8) & 0x3ff;
        uint32_t addr = htonl(0x0a080000u | low);
        neigh_entry e = {.mac = {2, 0, 10, 8, (uint8_t)(low >> 8), (uint8_t)low},
                         .state = 0x80, .resolved = 1};
        if (x & 0x100000)
            neigh_map_upsert4(map, ifindex, addr, &e);
        else
            neigh_map_remove4(map, ifindex, addr);
    }
}

static int request(const char *name, unsigned ifindex, const char *addr, double timeout_ms)
{
    neigh_map *map = NULL;
    int rc = neigh_map_join_shm(name, NEIGH_READ_WRITE, &map);
    if (rc != NEIGH_OK) {
        fprintf(stderr, "join %s: %s (%s)\n", name, neigh_strerror(rc), neigh_last_error());
        return 1;
    }
    uint32_t v4;
    uint8_t v6[16];
    int is4 = inet_pton(AF_INET, addr, &v4) == 1;
    if (!is4 && inet_pton(AF_INET6, addr, v6) != 1)
        return 2;
    neigh_entry e;
#define LOOKUP() (is4 ? neigh_map_lookup4(map, ifindex, v4, &e) : neigh_map_lookup6(map, ifindex, v6, &e))
    CHECK_RC(LOOKUP(), NEIGH_ABSENT);
    CHECK_RC(is4 ? neigh_map_request_resolve4(map, ifindex, v4)
                 : neigh_map_request_resolve6(map, ifindex, v6),
             NEIGH_OK);
    double deadline = now_ms() + timeout_ms;
    while ((rc = LOOKUP()) != NEIGH_FOUND && now_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
#undef LOOKUP
    CHECK_RC(rc, NEIGH_FOUND);
    if (rc == NEIGH_FOUND)
        printf("request: %s state 0x%x resolved %u\n", addr, e.state, e.resolved);
    neigh_map_leave(map);
    return failures != 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "self") == 0)
        return self_test();
    if (argc == 4 && strcmp(argv[1], "check") == 0)
        return check(argv[2], atof(argv[3]));
    if (argc == 3 && strcmp(argv[1], "serve") == 0)
        return serve(argv[2]);
    if (argc == 4 && strcmp(argv[1], "watch") == 0)
        return watch(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
    if (argc == 4 && strcmp(argv[1], "hammer") == 0)
        return hammer(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
    if (argc == 6 && strcmp(argv[1], "request") == 0)
        return request(argv[2], (unsigned)strtoul(argv[3], NULL, 10), argv[4], atof(argv[5]));
    fprintf(stderr, "usage: test_neigh self | check MAP_NAME TIMEOUT_MS | serve MAP_NAME | "
                    "watch MAP_NAME IFINDEX | hammer MAP_NAME IFINDEX | "
                    "request MAP_NAME IFINDEX ADDR TIMEOUT_MS\n");
    return 2;
}
