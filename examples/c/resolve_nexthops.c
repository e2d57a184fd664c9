/* resolve_nexthops: a minimal C data-plane loop over the neigh map.
 *
 * Joins the map the mirror publishes in shared memory (by name) and, for each round,
 * resolves the next-hop MAC of every IP given on the command line, as a forwarding loop
 * would before building an Ethernet header. A miss (absent, or present but unresolved)
 * asks the mirror to resolve it when the map was joined read-write (-w).
 *
 * Usage: resolve_nexthops [-w] [-n ROUNDS] [-i INTERVAL_MS] MAP_NAME DEV IP...
 * Output, one line per IP and round:
 *   IP dev DEV lladdr 02:00:00:00:00:01 state 0x02 [router]
 *   IP dev DEV unresolved state 0x01
 *   IP dev DEV absent
 * Between rounds, the housekeeping a data plane does beside its packet threads: the map's
 * status (neigh_map_status) says whether the mirror keeps it; a restarted mirror takes the
 * same map over, so only a superseded map (replaced by one of another size) is joined
 * again, and a stale one (no mirror running) is reported on stderr.
 * Exit status: 0 when every IP resolved in the last round, 1 otherwise, 2 on errors.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "neigh.h"

#define NTF_ROUTER 0x80

struct nexthop {
    const char *text;
    int family; /* AF_INET or AF_INET6 */
    uint32_t v4; /* network byte order */
    uint8_t v6[16];
};

/* Housekeeping between rounds: replaces *map by a new join of `name` when the region was
 * superseded (a single-threaded loop may leave the old handle at once; with packet
 * threads, hand them the new one and leave the old once none uses it), and warns once
 * per stale spell. */
static void housekeeping(neigh_map **map, const char *name, int mode, int *warned)
{
    neigh_status st;
    if (neigh_map_status(*map, &st) != NEIGH_OK)
        return;
    if (st.superseded) {
        neigh_map *next = NULL;
        if (neigh_map_join_shm(name, mode, &next) == NEIGH_OK) {
            neigh_map_leave(*map);
            *map = next;
            fprintf(stderr, "resolve_nexthops: %s was replaced: joined the new map\n", name);
        }
    } else if (st.stale && !*warned) {
        fprintf(stderr,
                "resolve_nexthops: %s: no mirror running (pid %llu, heartbeat %llu ms old)\n",
                name, (unsigned long long)st.writer_pid,
                (unsigned long long)st.heartbeat_age_ms);
    }
    *warned = st.stale;
}

static int lookup(const neigh_map *map, uint32_t ifindex, const struct nexthop *nh,
                  neigh_entry *out)
{
    if (nh->family == AF_INET)
        return neigh_map_lookup4(map, ifindex, nh->v4, out);
    return neigh_map_lookup6(map, ifindex, nh->v6, out);
}

static int request(const neigh_map *map, uint32_t ifindex, const struct nexthop *nh)
{
    if (nh->family == AF_INET)
        return neigh_map_request_resolve4(map, ifindex, nh->v4);
    return neigh_map_request_resolve6(map, ifindex, nh->v6);
}

static int usage(void)
{
    fprintf(stderr, "usage: resolve_nexthops [-w] [-n ROUNDS] [-i INTERVAL_MS] MAP_NAME DEV IP...\n");
    return 2;
}

int main(int argc, char **argv)
{
    int writable = 0, rounds = 1, interval_ms = 100, opt;
    while ((opt = getopt(argc, argv, "wn:i:")) != -1) {
        switch (opt) {
        case 'w': writable = 1; break;
        case 'n': rounds = atoi(optarg); break;
        case 'i': interval_ms = atoi(optarg); break;
        default: return usage();
        }
    }
    if (argc - optind < 3 || rounds < 1 || interval_ms < 0)
        return usage();
    const char *name = argv[optind], *dev = argv[optind + 1];
    uint32_t ifindex = if_nametoindex(dev);
    if (ifindex == 0) {
        fprintf(stderr, "resolve_nexthops: no interface %s\n", dev);
        return 2;
    }

    size_t n = (size_t)(argc - optind - 2);
    struct nexthop *hops = calloc(n, sizeof *hops);
    if (!hops)
        return 2;
    for (size_t i = 0; i < n; i++) {
        struct nexthop *nh = &hops[i];
        nh->text = argv[optind + 2 + (int)i];
        if (inet_pton(AF_INET, nh->text, &nh->v4) == 1) {
            nh->family = AF_INET;
        } else if (inet_pton(AF_INET6, nh->text, nh->v6) == 1) {
            nh->family = AF_INET6;
        } else {
            fprintf(stderr, "resolve_nexthops: bad address %s\n", nh->text);
            free(hops);
            return 2;
        }
    }

    neigh_map *map = NULL;
    int rc = neigh_map_join_shm(name, writable ? NEIGH_READ_WRITE : NEIGH_READ_ONLY, &map);
    if (rc < 0) {
        fprintf(stderr, "resolve_nexthops: join %s: %s (%s)\n", name, neigh_strerror(rc),
                neigh_last_error());
        free(hops);
        return 2;
    }

    size_t resolved = 0;
    int warned = 0;
    for (int round = 0; round < rounds; round++) {
        housekeeping(&map, name, writable ? NEIGH_READ_WRITE : NEIGH_READ_ONLY, &warned);
        resolved = 0;
        /* The hot loop: no allocation, no lock, no system call inside the lookups. */
        for (size_t i = 0; i < n; i++) {
            neigh_entry e;
            rc = lookup(map, ifindex, &hops[i], &e);
            if (rc == NEIGH_FOUND && e.resolved) {
                resolved++;
                printf("%s dev %s lladdr %02x:%02x:%02x:%02x:%02x:%02x state 0x%02x%s\n",
                       hops[i].text, dev, e.mac[0], e.mac[1], e.mac[2], e.mac[3], e.mac[4],
                       e.mac[5], e.state, (e.flags & NTF_ROUTER) ? " router" : "");
                continue;
            }
            if (rc == NEIGH_FOUND)
                printf("%s dev %s unresolved state 0x%02x\n", hops[i].text, dev, e.state);
            else if (rc == NEIGH_ABSENT)
                printf("%s dev %s absent\n", hops[i].text, dev);
            else
                printf("%s dev %s error %s\n", hops[i].text, dev, neigh_strerror(rc));
            if (writable && (rc == NEIGH_FOUND || rc == NEIGH_ABSENT)) {
                int r = request(map, ifindex, &hops[i]);
                if (r < 0 && r != NEIGH_EAGAIN)
                    fprintf(stderr, "resolve_nexthops: request %s: %s\n", hops[i].text,
                            neigh_strerror(r));
            }
        }
        fflush(stdout);
        if (round + 1 < rounds) {
            struct timespec ts = {interval_ms / 1000, (long)(interval_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }

    neigh_map_leave(map);
    free(hops);
    return resolved == n ? 0 : 1;
}
