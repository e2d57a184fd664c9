/* SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * bench.c: neigh's map (through the C API of libneigh.a) against DPDK's rte_hash with
 * lock-free readers (RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF), side by side in one
 * process, on the same keys and values. See README.md in this directory.
 *
 * Keys: (ifindex 1..4, IPv4 address), 8 bytes. Values: a 6-byte MAC and a NUD state;
 * rte_hash keeps them packed in its `void *data` word, neigh in its slot. The MAC of a key
 * is a function of the key (bytes 0..3) and a version (bytes 4..5), and the state's
 * parity follows the version, so a reader can tell a MAC that belongs to another key or
 * a value torn between two writes.
 *
 * Method: for each case, rounds alternate between the two sides (the side that goes
 * first alternates too); each round times one pass over a pre-generated array of lookup
 * keys in random order. Per case: the median ns per lookup of each side and the median
 * of the per-round ratios neigh / rte_hash.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/mman.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_memory.h>

#include "neigh.h"

#ifdef CUCKOO_PROTOTYPE
/* `make bench-cuckoo`: the neigh side's fill and lookups go to the read-path prototype
 * in cuckoo/ instead of neigh's map (see README.md). */
void cuckoo_init(size_t slots);
int cuckoo_upsert4(uint32_t ifindex, uint32_t ipv4_be, const struct neigh_entry *e);
int cuckoo_lookup4(uint32_t ifindex, uint32_t ipv4_be, struct neigh_entry *out);
int cuckoo_lookup4_burst(size_t n, const uint32_t *ifindex, const uint32_t *ipv4_be,
			 struct neigh_entry *out, int *rc);
#define neigh_map_upsert4(m, i, a, e) ((void)(m), cuckoo_upsert4(i, a, e))
#define neigh_map_lookup4(m, i, a, e) ((void)(m), cuckoo_lookup4(i, a, e))
#define neigh_map_lookup4_burst(m, n, i, a, o, r) ((void)(m), cuckoo_lookup4_burst(n, i, a, o, r))
#endif

#define BURST 32
#define NUD_REACHABLE 0x02
#define NUD_STALE 0x04
#define READER_CPU 0
#define WRITER_CPU 1
#define HUGE_PAGE (2u << 20)

/* The rte_hash key; neigh takes the same two fields as arguments. */
struct key {
	uint32_t ifindex;
	uint32_t ipv4_be;
};

/* A side's lookup inputs: the same keys in the form each API takes. */
struct lookups {
	size_t n;             /* a multiple of BURST */
	uint32_t *ifindex;    /* neigh: arrays of fields */
	uint32_t *ipv4_be;
	struct key *keys;     /* rte_hash single lookups */
	const void **key_ptr; /* rte_hash bulk lookups: key_ptr[i] = &keys[i] */
	uint32_t *tag;        /* the MAC bytes 0..3 each key must come back with */
	bool hit;             /* every key present (true) or none (false) */
};

/* Both tables, filled with the same keys in the same order. */
struct tables {
	size_t slots;
	void *region;
	struct neigh_map *neigh;
	struct rte_hash *rte;
	size_t filled;           /* keys [0, filled) were offered to both */
	size_t neigh_refused;    /* NEIGH_ENOSPC */
	size_t rte_refused;      /* -ENOSPC */
	uint8_t *in_both;        /* per key index: accepted by both tables */
};

struct options {
	bool size_64k, size_4m, load_50, load_90, kind_hit, kind_miss, single, burst;
	bool cases, writer;
	bool churn; /* reads under a writer: the writer moves churn keys (remove, insert) */
	bool thp; /* back both tables with transparent huge pages */
	unsigned rounds;
	size_t lookups;
	unsigned writer_rounds;
	uint64_t writer_lookups;
	uint64_t seed;
};

static volatile uint64_t sink;

static _Noreturn void die(const char *what, long code)
{
	fprintf(stderr, "bench: %s failed: %ld\n", what, code);
	exit(1);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A pass's cost per lookup: the calling thread's CPU time (what the tables report: it
 * leaves out the time other jobs on this shared machine took the CPU from the reader)
 * and the wall-clock time. */
struct timing {
	double cpu, wall;
};

struct stamp {
	uint64_t cpu, wall;
};

static struct stamp stamp_now(void)
{
	return (struct stamp){ clock_ns(CLOCK_THREAD_CPUTIME_ID), clock_ns(CLOCK_MONOTONIC) };
}

static struct timing timing_since(struct stamp t0, uint64_t lookups)
{
	struct stamp t1 = stamp_now();
	return (struct timing){ (double)(t1.cpu - t0.cpu) / (double)lookups,
				(double)(t1.wall - t0.wall) / (double)lookups };
}

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Key number i: a bijection of the 34-bit space (2 bits of ifindex, 32 of address), so
 * distinct numbers give distinct keys that look random to both hash functions. */
static struct key key_at(uint64_t i, uint64_t seed)
{
	const uint64_t mask = (1ull << 34) - 1;
	uint64_t x = (i ^ seed) & mask;
	x = (x * 0x9E3779B97F4A7C15ull) & mask;
	x ^= x >> 17;
	x = (x * 0xD6E8FEB86659FD93ull) & mask;
	x ^= x >> 13;
	return (struct key){ .ifindex = (uint32_t)(x & 3) + 1, .ipv4_be = (uint32_t)(x >> 2) };
}

static uint32_t key_tag(struct key k)
{
	uint64_t x = ((uint64_t)k.ifindex << 32 | k.ipv4_be) * 0x9E3779B97F4A7C15ull;
	return (uint32_t)(x >> 32);
}

static uint16_t state_of(uint16_t version)
{
	return (version & 1) ? NUD_STALE : NUD_REACHABLE;
}

static void mac_of(struct key k, uint16_t version, uint8_t mac[6])
{
	uint32_t tag = key_tag(k);
	memcpy(mac, &tag, 4);
	memcpy(mac + 4, &version, 2);
}

static struct neigh_entry neigh_value(struct key k, uint16_t version)
{
	struct neigh_entry e = { .state = state_of(version), .resolved = 1 };
	mac_of(k, version, e.mac);
	return e;
}

/* rte_hash's value: MAC in bytes 0..5 of the data word, state in bytes 6..7. */
static void *rte_value(struct key k, uint16_t version)
{
	uint8_t mac[6];
	uint64_t v = (uint64_t)state_of(version) << 48;
	mac_of(k, version, mac);
	memcpy(&v, mac, 6);
	return (void *)(uintptr_t)v;
}

static void rte_unpack(const void *data, uint8_t mac[6], uint16_t *state)
{
	uint64_t v = (uint64_t)(uintptr_t)data;
	memcpy(mac, &v, 6);
	*state = (uint16_t)(v >> 48);
}

static uint32_t mac_sum(const uint8_t mac[6])
{
	return (uint32_t)mac[0] + mac[1] + mac[2] + mac[3] + mac[4] + mac[5];
}

/* --- tables ------------------------------------------------------------------------ */

static void tables_create(struct tables *t, size_t slots, const struct options *o)
{
	static unsigned created;
	char name[RTE_HASH_NAMESIZE];
	size_t len = neigh_map_footprint(slots / 2);

	/* Huge-page aligned (a multiple of neigh_map_align()), so --thp can back it. */
	memset(t, 0, sizeof(*t));
	t->slots = slots;
	len = (len + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
	t->region = aligned_alloc(HUGE_PAGE, len);
	if (!t->region || HUGE_PAGE % neigh_map_align() != 0)
		die("aligned_alloc", (long)len);
	if (o->thp && madvise(t->region, len, MADV_HUGEPAGE) != 0)
		die("madvise(MADV_HUGEPAGE)", errno);
	int rc = neigh_map_format(t->region, len, slots / 2, o->seed, &t->neigh);
	if (rc != NEIGH_OK)
		die(neigh_last_error(), rc);
#ifdef CUCKOO_PROTOTYPE
	cuckoo_init(slots);
#endif
	if (neigh_map_capacity(t->neigh) != slots)
		die("neigh_map_capacity == slots", (long)neigh_map_capacity(t->neigh));

	snprintf(name, sizeof(name), "bench%u", created++);
	struct rte_hash_parameters p = {
		.name = name,
		.entries = (uint32_t)slots,
		.key_len = sizeof(struct key),
		.hash_func = rte_hash_crc,
		.hash_func_init_val = (uint32_t)o->seed,
		.socket_id = SOCKET_ID_ANY,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	t->rte = rte_hash_create(&p);
	if (!t->rte)
		die("rte_hash_create", rte_errno);
	t->in_both = calloc(slots, 1);
	if (!t->in_both)
		die("calloc", (long)slots);
}

static void tables_destroy(struct tables *t)
{
	neigh_map_leave(t->neigh);
	free(t->region);
	rte_hash_free(t->rte);
	free(t->in_both);
}

/* Offers keys [t->filled, upto) to both tables (version 0 values). */
static void tables_fill(struct tables *t, size_t upto, uint64_t seed)
{
	for (size_t i = t->filled; i < upto; i++) {
		struct key k = key_at(i, seed);
		struct neigh_entry e = neigh_value(k, 0);
		int rn = neigh_map_upsert4(t->neigh, k.ifindex, k.ipv4_be, &e);
		int rr = rte_hash_add_key_data(t->rte, &k, rte_value(k, 0));

		if (rn == NEIGH_ENOSPC)
			t->neigh_refused++;
		else if (rn != NEIGH_INSERTED)
			die("neigh_map_upsert4 (fill)", rn);
		if (rr == -ENOSPC)
			t->rte_refused++;
		else if (rr != 0)
			die("rte_hash_add_key_data (fill)", rr);
		t->in_both[i] = rn == NEIGH_INSERTED && rr == 0;
	}
	t->filled = upto;
}

/* --- lookup inputs ----------------------------------------------------------------- */

static void *xmalloc(size_t len)
{
	void *p = malloc(len);
	if (!p)
		die("malloc", (long)len);
	return p;
}

static void lookups_alloc(struct lookups *l, size_t n)
{
	l->n = n;
	l->ifindex = xmalloc(n * sizeof(*l->ifindex));
	l->ipv4_be = xmalloc(n * sizeof(*l->ipv4_be));
	l->keys = xmalloc(n * sizeof(*l->keys));
	l->key_ptr = xmalloc(n * sizeof(*l->key_ptr));
	l->tag = xmalloc(n * sizeof(*l->tag));
}

static void lookups_set(struct lookups *l, size_t i, struct key k)
{
	l->ifindex[i] = k.ifindex;
	l->ipv4_be[i] = k.ipv4_be;
	l->keys[i] = k;
	l->key_ptr[i] = &l->keys[i];
	l->tag[i] = key_tag(k);
}

static void lookups_free(struct lookups *l)
{
	free(l->ifindex);
	free(l->ipv4_be);
	free(l->keys);
	free(l->key_ptr);
	free(l->tag);
}

/* n keys drawn at random (with repetition) from those both tables hold. */
static void lookups_hit(struct lookups *l, const struct tables *t, size_t n, uint64_t seed)
{
	size_t *pool = xmalloc(t->filled * sizeof(*pool));
	size_t present = 0;
	uint64_t rng = seed ^ 0x4849545355ull;

	for (size_t i = 0; i < t->filled; i++)
		if (t->in_both[i])
			pool[present++] = i;
	if (present == 0)
		die("lookups_hit: no key in both tables", 0);
	lookups_alloc(l, n);
	l->hit = true;
	for (size_t i = 0; i < n; i++)
		lookups_set(l, i, key_at(pool[rng_next(&rng) % present], seed));
	free(pool);
}

/* n distinct keys never offered to a table of `slots` slots (key numbers >= slots). */
static void lookups_miss(struct lookups *l, size_t slots, size_t n, uint64_t seed)
{
	lookups_alloc(l, n);
	l->hit = false;
	for (size_t i = 0; i < n; i++)
		lookups_set(l, i, key_at(slots + i, seed));
}

/* --- timed passes: each returns the number of keys found and adds the MACs to sink -- */

struct pass {
	size_t found;
	size_t other; /* results that are neither found nor absent (NEIGH_EBUSY, errors) */
};

static struct pass neigh_single(const struct neigh_map *m, const struct lookups *l)
{
	struct pass p = { 0, 0 };
	uint64_t sum = 0;

	for (size_t i = 0; i < l->n; i++) {
		struct neigh_entry e;
		int rc = neigh_map_lookup4(m, l->ifindex[i], l->ipv4_be[i], &e);
		if (rc == NEIGH_FOUND) {
			p.found++;
			sum += mac_sum(e.mac);
		} else if (rc != NEIGH_ABSENT) {
			p.other++;
		}
	}
	sink += sum;
	return p;
}

static struct pass rte_single(const struct rte_hash *h, const struct lookups *l)
{
	struct pass p = { 0, 0 };
	uint64_t sum = 0;

	for (size_t i = 0; i < l->n; i++) {
		void *data;
		int rc = rte_hash_lookup_data(h, &l->keys[i], &data);
		if (rc >= 0) {
			uint8_t mac[6];
			uint16_t state;
			rte_unpack(data, mac, &state);
			p.found++;
			sum += mac_sum(mac);
		} else if (rc != -ENOENT) {
			p.other++;
		}
	}
	sink += sum;
	return p;
}

static struct pass neigh_burst(const struct neigh_map *m, const struct lookups *l)
{
	struct pass p = { 0, 0 };
	uint64_t sum = 0;

	for (size_t i = 0; i < l->n; i += BURST) {
		struct neigh_entry out[BURST];
		int rc[BURST];
		neigh_map_lookup4_burst(m, BURST, &l->ifindex[i], &l->ipv4_be[i], out, rc);
		for (unsigned j = 0; j < BURST; j++) {
			if (rc[j] == NEIGH_FOUND) {
				p.found++;
				sum += mac_sum(out[j].mac);
			} else if (rc[j] != NEIGH_ABSENT) {
				p.other++;
			}
		}
	}
	sink += sum;
	return p;
}

static struct pass rte_burst(const struct rte_hash *h, const struct lookups *l)
{
	struct pass p = { 0, 0 };
	uint64_t sum = 0;

	for (size_t i = 0; i < l->n; i += BURST) {
		void *data[BURST];
		uint64_t hits = 0;
		if (rte_hash_lookup_bulk_data(h, &l->key_ptr[i], BURST, &hits, data) < 0)
			p.other += BURST;
		for (unsigned j = 0; j < BURST; j++) {
			if (hits & (1ull << j)) {
				uint8_t mac[6];
				uint16_t state;
				rte_unpack(data[j], mac, &state);
				p.found++;
				sum += mac_sum(mac);
			}
		}
	}
	sink += sum;
	return p;
}

/* --- one case ---------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *v, unsigned n)
{
	double *s = xmalloc(n * sizeof(*s));
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

/* Every key of l comes back from both sides with the MAC and state it was filled with
 * (hit), or neither side finds any (miss). Not timed. */
static void check_results(const struct tables *t, const struct lookups *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct neigh_entry e;
		void *data;
		uint8_t mac[6], want[6];
		uint16_t state;
		int rn = neigh_map_lookup4(t->neigh, l->ifindex[i], l->ipv4_be[i], &e);
		int rr = rte_hash_lookup_data(t->rte, &l->keys[i], &data);

		if (rn != (l->hit ? NEIGH_FOUND : NEIGH_ABSENT))
			die("check: neigh_map_lookup4", rn);
		if (l->hit ? rr < 0 : rr != -ENOENT)
			die("check: rte_hash_lookup_data", rr);
		if (!l->hit)
			continue;
		mac_of(l->keys[i], 0, want);
		rte_unpack(data, mac, &state);
		if (memcmp(e.mac, want, 6) || e.state != NUD_REACHABLE)
			die("check: neigh value", (long)i);
		if (memcmp(mac, want, 6) || state != NUD_REACHABLE)
			die("check: rte_hash value", (long)i);
	}
}

struct case_id {
	size_t slots;
	unsigned load;
	bool hit, burst;
};

static struct timing time_pass(const struct tables *t, const struct lookups *l, bool burst,
			       bool neigh)
{
	struct stamp t0 = stamp_now();
	struct pass p = neigh ? (burst ? neigh_burst(t->neigh, l) : neigh_single(t->neigh, l))
			      : (burst ? rte_burst(t->rte, l) : rte_single(t->rte, l));
	struct timing ns = timing_since(t0, l->n);

	if (p.found != (l->hit ? l->n : 0) || p.other != 0) {
		fprintf(stderr, "bench: %s found %zu of %zu, %zu other results\n",
			neigh ? "neigh" : "rte_hash", p.found, l->n, p.other);
		exit(1);
	}
	return ns;
}

static void run_case(const struct tables *t, const struct lookups *l, struct case_id c,
		     const struct options *o)
{
	unsigned rounds = o->rounds;
	/* Per round: ns per lookup of neigh and rte_hash, and their ratio; CPU time, then
	 * wall-clock time. */
	double *v = xmalloc(6 * rounds * sizeof(double));
	double *ns_n = v, *ns_r = v + rounds, *ratio = v + 2 * rounds;
	double *wall_n = v + 3 * rounds, *wall_r = v + 4 * rounds, *wall_q = v + 5 * rounds;

	time_pass(t, l, c.burst, true); /* warm-up, not counted */
	time_pass(t, l, c.burst, false);
	for (unsigned r = 0; r < rounds; r++) {
		struct timing n, h;
		if (r % 2 == 0) {
			n = time_pass(t, l, c.burst, true);
			h = time_pass(t, l, c.burst, false);
		} else {
			h = time_pass(t, l, c.burst, false);
			n = time_pass(t, l, c.burst, true);
		}
		ns_n[r] = n.cpu, ns_r[r] = h.cpu, ratio[r] = n.cpu / h.cpu;
		wall_n[r] = n.wall, wall_r[r] = h.wall, wall_q[r] = n.wall / h.wall;
	}
	double mn = median(ns_n, rounds), mr = median(ns_r, rounds), mq = median(ratio, rounds);
	const char *size = c.slots == (1u << 16) ? "64Ki" : "4Mi";
	const char *kind = c.hit ? "hit" : "miss";
	const char *mode = c.burst ? "burst32" : "single";

	printf("| %-4s | %u%% | %-4s | %-7s | %8.1f | %8.1f | %5.2f |\n", size, c.load, kind,
	       mode, mn, mr, mq);
	fprintf(stderr,
		"RESULT case,slots=%zu,load=%u,kind=%s,mode=%s,neigh_ns=%.2f,rte_ns=%.2f,"
		"ratio=%.3f,neigh_wall_ns=%.2f,rte_wall_ns=%.2f,wall_ratio=%.3f,rounds=%u,"
		"lookups=%zu,neigh_refused=%zu,rte_refused=%zu\n",
		c.slots, c.load, kind, mode, mn, mr, mq, median(wall_n, rounds),
		median(wall_r, rounds), median(wall_q, rounds), rounds, l->n, t->neigh_refused,
		t->rte_refused);
	fflush(stdout);
	free(v);
}

/* --thp: how much of the process is backed by huge pages (from /proc/self/smaps_rollup). */
static void print_huge_pages(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "AnonHugePages:", 14) == 0 ||
		    strncmp(line, "ShmemPmdMapped:", 15) == 0)
			printf("(%s)\n", strtok(line, "\n"));
	fclose(f);
}

static void run_load(const struct tables *t, struct case_id c, const struct options *o)
{
	struct lookups l;

	for (int kind = 0; kind < 2; kind++) {
		c.hit = kind == 0;
		if (c.hit ? !o->kind_hit : !o->kind_miss)
			continue;
		if (c.hit)
			lookups_hit(&l, t, o->lookups, o->seed);
		else
			lookups_miss(&l, t->slots, o->lookups, o->seed);
		check_results(t, &l);
		for (int mode = 0; mode < 2; mode++) {
			c.burst = mode == 1;
			if (c.burst ? o->burst : o->single)
				run_case(t, &l, c, o);
		}
		lookups_free(&l);
	}
}

static void run_cases(const struct options *o)
{
	static const size_t sizes[2] = { 1u << 16, 1u << 22 };
	static const unsigned loads[2] = { 50, 90 };

	printf("| size | load | kind | mode    | neigh ns | rte ns   | ratio |\n");
	printf("|------|------|------|---------|---------:|---------:|------:|\n");
	for (int s = 0; s < 2; s++) {
		struct tables t;
		if (s == 0 ? !o->size_64k : !o->size_4m)
			continue;
		tables_create(&t, sizes[s], o);
		for (int ld = 0; ld < 2; ld++) {
			if (ld == 0 ? !o->load_50 : !o->load_90)
				continue;
			tables_fill(&t, sizes[s] * loads[ld] / 100, o->seed);
			if (t.neigh_refused || t.rte_refused)
				printf("(%zu slots, %u%%: neigh refused %zu inserts, rte_hash %zu)\n",
				       sizes[s], loads[ld], t.neigh_refused, t.rte_refused);
			if (o->thp)
				print_huge_pages();
			run_load(&t, (struct case_id){ .slots = sizes[s], .load = loads[ld] }, o);
		}
		tables_destroy(&t);
	}
}

/* --- reads under a writer ---------------------------------------------------------- */

struct writer {
	const struct tables *t;
	bool neigh;               /* which table this run writes */
	bool churn;               /* remove and re-insert keys (else: update them) */
	struct key *keys;         /* present keys (update) or churn keys, in random order */
	size_t nkeys;
	atomic_int run;           /* 1: write flat out; 0: idle */
	atomic_int quit;
	atomic_uint_fast64_t updates; /* writes: updates, or removes + inserts */
	uint64_t errors;
	/* rte_hash churn: positions of deleted keys not yet given back (a FIFO) */
	int32_t *freeq;
	size_t qlen, qpos, qfill;
};

static void pin(pthread_t th, int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int rc = pthread_setaffinity_np(th, sizeof(set), &set);
	if (rc != 0)
		die("pthread_setaffinity_np", rc);
}

/* Churn, neigh: moves key k out of the map and back in (remove, then insert with
 * version v); both shift the entries after it in its probe run. Returns the number of
 * failed writes. */
static unsigned churn_neigh(struct writer *w, struct key k, uint16_t v)
{
	struct neigh_entry e = neigh_value(k, v);
	unsigned bad = neigh_map_remove4(w->t->neigh, k.ifindex, k.ipv4_be) != NEIGH_REMOVED;
	return bad + (neigh_map_upsert4(w->t->neigh, k.ifindex, k.ipv4_be, &e) != NEIGH_INSERTED);
}

/* Churn, rte_hash: deletes key k and adds it back (version v). Under
 * RW_CONCURRENCY_LF (without internal RCU) rte_hash_del_key does not free the key's
 * position (no_free_on_del is implied): the writer must give it back with
 * rte_hash_free_key_with_position once no reader can still be reading that key slot, or
 * the key store runs out after about (slots - keys) deletes. The readers never look up
 * churn keys (they can only compare their key with a churn key's in passing), and the
 * writer gives each position back only after w->qlen further deletes; DPDK then queues
 * it behind the other free positions. Returns the number of failed writes. */
static unsigned churn_rte(struct writer *w, struct key k, uint16_t v)
{
	const struct rte_hash *h = w->t->rte;
	unsigned bad = 0;
	int32_t pos = rte_hash_del_key(h, &k);

	if (pos < 0) {
		bad++;
	} else {
		if (w->qfill == w->qlen)
			bad += rte_hash_free_key_with_position(h, w->freeq[w->qpos]) != 0;
		else
			w->qfill++;
		w->freeq[w->qpos] = pos;
		if (++w->qpos == w->qlen)
			w->qpos = 0;
	}
	return bad + (rte_hash_add_key_data(h, &k, rte_value(k, v)) != 0);
}

/* While w->run is set, flat out: updates existing keys in turn with new values (a
 * version counter in the MAC and state), or (churn) removes and re-inserts churn keys in
 * turn, two writes per key. Counts writes in batches of 256, each ending with every key
 * present. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t version = 0;
	size_t i = 0;

	while (!atomic_load_explicit(&w->quit, memory_order_relaxed)) {
		if (!atomic_load_explicit(&w->run, memory_order_relaxed)) {
			usleep(100);
			continue;
		}
		for (unsigned b = 0; b < 256; b += w->churn ? 2 : 1) {
			struct key k = w->keys[i];
			uint16_t v = (uint16_t)++version;
			if (++i == w->nkeys)
				i = 0;
			if (w->churn) {
				w->errors += w->neigh ? churn_neigh(w, k, v) : churn_rte(w, k, v);
			} else if (w->neigh) {
				struct neigh_entry e = neigh_value(k, v);
				w->errors += neigh_map_upsert4(w->t->neigh, k.ifindex, k.ipv4_be, &e)
					     != NEIGH_UPDATED;
			} else {
				w->errors += rte_hash_add_key_data(w->t->rte, &k, rte_value(k, v)) != 0;
			}
		}
		atomic_fetch_add_explicit(&w->updates, 256, memory_order_relaxed);
	}
	return NULL;
}

struct reads {
	uint64_t lookups, busy, absent, wrong_mac, torn;
};

/* A value read for key i is right if its MAC carries the key's tag and its state agrees
 * with the MAC's version (one write's value, whole). */
static void check_value(struct reads *r, const uint8_t mac[6], uint16_t state, uint32_t tag)
{
	uint32_t got;
	uint16_t version;
	memcpy(&got, mac, 4);
	memcpy(&version, mac + 4, 2);
	r->wrong_mac += got != tag;
	r->torn += state != state_of(version);
}

static void read_neigh(const struct tables *t, const struct lookups *l, size_t n,
		       struct reads *r)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		struct neigh_entry e;
		int rc = neigh_map_lookup4(t->neigh, l->ifindex[i], l->ipv4_be[i], &e);
		if (rc == NEIGH_FOUND) {
			check_value(r, e.mac, e.state, l->tag[i]);
			sum += mac_sum(e.mac);
		} else if (rc == NEIGH_EBUSY) {
			r->busy++;
		} else {
			r->absent++;
		}
	}
	r->lookups += n;
	sink += sum;
}

static void read_rte(const struct tables *t, const struct lookups *l, size_t n,
		     struct reads *r)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		void *data;
		if (rte_hash_lookup_data(t->rte, &l->keys[i], &data) >= 0) {
			uint8_t mac[6];
			uint16_t state;
			rte_unpack(data, mac, &state);
			check_value(r, mac, state, l->tag[i]);
			sum += mac_sum(mac);
		} else {
			r->absent++;
		}
	}
	r->lookups += n;
	sink += sum;
}

/* Times `count` hit lookups of one side (cycling over l). */
static struct timing read_phase(const struct writer *w, const struct lookups *l,
				uint64_t count, struct reads *r)
{
	struct stamp t0 = stamp_now();
	for (uint64_t done = 0; done < count;) {
		size_t n = count - done < l->n ? (size_t)(count - done) : l->n;
		if (w->neigh)
			read_neigh(w->t, l, n, r);
		else
			read_rte(w->t, l, n, r);
		done += n;
	}
	return timing_since(t0, count);
}

/* One side's measurements over the rounds. */
struct writer_side {
	struct writer w;
	pthread_t thread;
	clockid_t writer_clock;      /* the writer thread's CPU time */
	double *alone, *with, *drop; /* per round, reader CPU time: ns per lookup, %; */
	double *wall_drop;           /* the drop in wall-clock time */
	struct reads reads_alone, reads_with;
	uint64_t write_wall_ns, write_cpu_ns, updates;
};

static void side_start(struct writer_side *s, const struct tables *t, bool neigh, bool churn,
		       struct key *keys, size_t nkeys, unsigned rounds)
{
	memset(s, 0, sizeof(*s));
	s->w.t = t;
	s->w.neigh = neigh;
	s->w.churn = churn;
	s->w.keys = keys;
	s->w.nkeys = nkeys;
	if (churn && !neigh) {
		s->w.qlen = nkeys;
		s->w.freeq = xmalloc(nkeys * sizeof(*s->w.freeq));
	}
	s->alone = xmalloc(4 * rounds * sizeof(double));
	s->with = s->alone + rounds;
	s->drop = s->alone + 2 * rounds;
	s->wall_drop = s->alone + 3 * rounds;
	int rc = pthread_create(&s->thread, NULL, writer_main, &s->w);
	if (rc != 0)
		die("pthread_create", rc);
	pin(s->thread, WRITER_CPU);
	rc = pthread_getcpuclockid(s->thread, &s->writer_clock);
	if (rc != 0)
		die("pthread_getcpuclockid", rc);
}

/* Round r of one side: `chunk` lookups alone, then `chunk` with its writer running. */
static void side_round(struct writer_side *s, const struct lookups *l, uint64_t chunk,
		       unsigned r)
{
	struct writer *w = &s->w;
	struct timing alone = read_phase(w, l, chunk, &s->reads_alone);

	uint64_t u0 = atomic_load(&w->updates);
	atomic_store(&w->run, 1);
	while (atomic_load(&w->updates) == u0)
		; /* until the writer is writing */
	uint64_t u1 = atomic_load(&w->updates), c0 = clock_ns(s->writer_clock);
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	struct timing with = read_phase(w, l, chunk, &s->reads_with);
	s->write_wall_ns += clock_ns(CLOCK_MONOTONIC) - t0;
	s->write_cpu_ns += clock_ns(s->writer_clock) - c0;
	s->updates += atomic_load(&w->updates) - u1;
	atomic_store(&w->run, 0);
	s->alone[r] = alone.cpu;
	s->with[r] = with.cpu;
	s->drop[r] = 100.0 * (1.0 - alone.cpu / with.cpu);
	s->wall_drop[r] = 100.0 * (1.0 - alone.wall / with.wall);
}

static void side_report(struct writer_side *s, const char *name, unsigned rounds)
{
	const struct reads *a = &s->reads_alone, *b = &s->reads_with;
	double ns_alone = median(s->alone, rounds), ns_with = median(s->with, rounds);
	double drop = median(s->drop, rounds), wall_drop = median(s->wall_drop, rounds);
	double mups = (double)s->updates * 1e3 / (double)s->write_wall_ns;
	double on_cpu = 100.0 * (double)s->write_cpu_ns / (double)s->write_wall_ns;

	atomic_store(&s->w.quit, 1);
	pthread_join(s->thread, NULL);
	printf("| %-8s | %6.1f | %6.1f | %5.1f%% | %5.1f%% | %5.1f | %3.0f%% | %" PRIu64
	       " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " |\n",
	       name, ns_alone, ns_with, drop, wall_drop, mups, on_cpu, b->lookups, b->busy,
	       a->absent + b->absent, a->wrong_mac + b->wrong_mac, a->torn + b->torn);
	fprintf(stderr,
		"RESULT writer,side=%s,writer=%s,ns_alone=%.2f,ns_writer=%.2f,drop_pct=%.2f,"
		"wall_drop_pct=%.2f,mupdates_per_s=%.2f,writer_on_cpu_pct=%.1f,"
		"lookups_with_writer=%" PRIu64 ",busy=%" PRIu64 ",busy_alone=%" PRIu64
		",absent=%" PRIu64 ",wrong_mac=%" PRIu64 ",torn=%" PRIu64 ",writer_errors=%" PRIu64
		",rounds=%u\n",
		name, s->w.churn ? "churn" : "update", ns_alone, ns_with, drop, wall_drop, mups, on_cpu, b->lookups, b->busy,
		a->busy, a->absent + b->absent, a->wrong_mac + b->wrong_mac, a->torn + b->torn,
		s->w.errors, rounds);
	if (s->w.errors)
		printf("%s writer: %" PRIu64 " %s failed\n", name, s->w.errors,
		       s->w.churn ? "removes or inserts" : "updates");
	free(s->w.freeq);
	free(s->alone);
}

static void shuffle_keys(struct key *keys, size_t n, uint64_t rng)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rng_next(&rng) % i;
		struct key tmp = keys[i - 1];
		keys[i - 1] = keys[j];
		keys[j] = tmp;
	}
}

/* The present keys of t in a random order: the writers' update sequence. */
static struct key *shuffled_keys(const struct tables *t, uint64_t seed, size_t *n)
{
	struct key *keys = xmalloc(t->filled * sizeof(*keys));

	*n = 0;
	for (size_t i = 0; i < t->filled; i++)
		if (t->in_both[i])
			keys[(*n)++] = key_at(i, seed);
	shuffle_keys(keys, *n, seed ^ 0x5752495445ull);
	return keys;
}

/* --churn: n keys never looked up (key numbers t->slots .. t->slots + n - 1, past every
 * filled key), inserted into both tables (version 0), in a random order: the writers'
 * remove / insert sequence. */
static struct key *churn_keys(const struct tables *t, size_t n, uint64_t seed)
{
	struct key *keys = xmalloc(n * sizeof(*keys));

	for (size_t i = 0; i < n; i++) {
		struct key k = key_at(t->slots + i, seed);
		struct neigh_entry e = neigh_value(k, 0);
		int rn = neigh_map_upsert4(t->neigh, k.ifindex, k.ipv4_be, &e);
		int rr = rte_hash_add_key_data(t->rte, &k, rte_value(k, 0));
		if (rn != NEIGH_INSERTED)
			die("neigh_map_upsert4 (churn key)", rn);
		if (rr != 0)
			die("rte_hash_add_key_data (churn key)", rr);
		keys[i] = k;
	}
	shuffle_keys(keys, n, seed ^ 0x4348555248ull);
	return keys;
}

/* Reader (this thread, CPU 0) against a writer (CPU 1) that updates present keys flat
 * out, on 64Ki slots at 50%; with --churn, the writer instead removes and re-inserts
 * churn keys (10% of the slots more, never looked up), which moves entries in neigh's
 * map. Rounds alternate the sides (and which goes first); in each, a side reads alone,
 * then with its writer running. */
static void run_writer(const struct options *o)
{
	struct tables t;
	struct lookups l;
	struct writer_side sides[2]; /* 0: neigh, 1: rte_hash */
	uint64_t chunk = o->writer_lookups / o->writer_rounds;
	size_t nkeys = (1u << 16) / 10; /* --churn: the churn keys */

	tables_create(&t, 1u << 16, o);
	tables_fill(&t, (1u << 16) / 2, o->seed);
	lookups_hit(&l, &t, o->lookups, o->seed);
	struct key *keys = o->churn ? churn_keys(&t, nkeys, o->seed)
				    : shuffled_keys(&t, o->seed, &nkeys);
	check_results(&t, &l);
	for (int s = 0; s < 2; s++) {
		side_start(&sides[s], &t, s == 0, o->churn, keys, nkeys, o->writer_rounds);
		read_phase(&sides[s].w, &l, l.n, &sides[s].reads_alone); /* warm-up */
		memset(&sides[s].reads_alone, 0, sizeof(struct reads));
	}
	for (unsigned r = 0; r < o->writer_rounds; r++)
		for (int s = 0; s < 2; s++)
			side_round(&sides[(s + r) % 2], &l, chunk, r);
	if (o->churn)
		printf("\nReads under a churning writer (64Ki slots, 50%% looked-up keys + %zu churn "
		       "keys the writer removes and re-inserts; hits, one key per call; reader on "
		       "CPU %d, writer on CPU %d; %u rounds):\n\n",
		       nkeys, READER_CPU, WRITER_CPU, o->writer_rounds);
	else
		printf("\nReads under a writer (64Ki slots, 50%%, hits, one key per call; reader on "
		       "CPU %d, writer on CPU %d; %u rounds):\n\n",
		       READER_CPU, WRITER_CPU, o->writer_rounds);
	printf("| side     | ns alone | ns w/ writer | drop (CPU) | drop (wall) | writer Mupd/s "
	       "| writer on CPU | lookups w/ writer | busy | absent | wrong MAC | torn |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	side_report(&sides[0], "neigh", o->writer_rounds);
	side_report(&sides[1], "rte_hash", o->writer_rounds);
	free(keys);
	lookups_free(&l);
	tables_destroy(&t);
}

/* --- main -------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench [options]\n"
		"  --size=64k|4m|all     table slots (default all)\n"
		"  --load=50|90|all      fill (default all)\n"
		"  --kind=hit|miss|all   lookups of present or absent keys (default all)\n"
		"  --mode=single|burst|all  one key per call, or bursts of 32 (default all)\n"
		"  --rounds=N            alternating rounds per case (default 15)\n"
		"  --lookups=N           lookups per side per round (default 1048576)\n"
		"  --writer-lookups=N    reader lookups with the writer running (default 1e8)\n"
		"  --writer-rounds=N     alternating alone / with-writer phases (default 20)\n"
		"  --no-writer | --writer-only\n"
		"  --churn               the writer removes and re-inserts keys the reader does\n"
		"                        not look up (default: it updates the looked-up keys)\n"
		"  --quick               5 rounds, 262144 lookups, 1e7 writer lookups\n"
		"  --thp                 back both tables with transparent huge pages (madvise)\n"
		"  --seed=N              key and hash seed\n");
}

static bool pick(const char *arg, const char *a, const char *b, bool *pa, bool *pb)
{
	bool all = strcmp(arg, "all") == 0;
	*pa = all || strcmp(arg, a) == 0;
	*pb = all || strcmp(arg, b) == 0;
	return *pa || *pb;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "size", required_argument, 0, 's' },	{ "load", required_argument, 0, 'l' },
		{ "kind", required_argument, 0, 'k' },	{ "mode", required_argument, 0, 'm' },
		{ "rounds", required_argument, 0, 'r' }, { "lookups", required_argument, 0, 'n' },
		{ "writer-lookups", required_argument, 0, 'W' },
		{ "writer-rounds", required_argument, 0, 'R' },
		{ "no-writer", no_argument, 0, 'x' },	{ "writer-only", no_argument, 0, 'w' },
		{ "quick", no_argument, 0, 'q' },	{ "seed", required_argument, 0, 'S' },
		{ "thp", no_argument, 0, 't' },	{ "help", no_argument, 0, 'h' },
		{ "churn", no_argument, 0, 'c' },
		{ 0, 0, 0, 0 },
	};
	*o = (struct options){
		.size_64k = true, .size_4m = true, .load_50 = true, .load_90 = true,
		.kind_hit = true, .kind_miss = true, .single = true, .burst = true,
		.cases = true, .writer = true, .rounds = 15, .lookups = 1u << 20,
		.writer_rounds = 20, .writer_lookups = 100000000ull, .seed = 0x6e65696768ull,
	};
	int c;
	bool ok = true;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': ok &= pick(optarg, "64k", "4m", &o->size_64k, &o->size_4m); break;
		case 'l': ok &= pick(optarg, "50", "90", &o->load_50, &o->load_90); break;
		case 'k': ok &= pick(optarg, "hit", "miss", &o->kind_hit, &o->kind_miss); break;
		case 'm': ok &= pick(optarg, "single", "burst", &o->single, &o->burst); break;
		case 'r': o->rounds = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'n': o->lookups = strtoull(optarg, NULL, 0); break;
		case 'W': o->writer_lookups = (uint64_t)strtod(optarg, NULL); break;
		case 'R': o->writer_rounds = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'x': o->writer = false; break;
		case 'w': o->cases = false; break;
		case 'c': o->churn = true; break;
		case 'q': o->rounds = 5, o->lookups = 1u << 18, o->writer_lookups = 10000000; break;
		case 't': o->thp = true; break;
		case 'S': o->seed = strtoull(optarg, NULL, 0); break;
		case 'h': usage(stdout); exit(0);
		default: ok = false;
		}
	}
	o->lookups = o->lookups / BURST * BURST;
	if (!ok || optind != argc || o->rounds == 0 || o->lookups == 0 || o->writer_rounds == 0) {
		usage(stderr);
		exit(2);
	}
#ifdef CUCKOO_PROTOTYPE
	if (o->writer) {
		fprintf(stderr, "bench-cuckoo: the prototype has no concurrent writer; "
				"run it with --no-writer\n");
		exit(2);
	}
#endif
}

/* --thp: EAL's --no-huge memory is a shared memfd mapping (shmem), which the kernel backs
 * with huge pages only if shmem_enabled allows madvise; otherwise rte_hash would stay on
 * 4 KiB pages while neigh's region gets huge ones. */
static void require_shmem_thp(void)
{
	char line[256] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
	}
	if (!strstr(line, "[advise]") && !strstr(line, "[always]") &&
	    !strstr(line, "[within_size]") && !strstr(line, "[force]")) {
		fprintf(stderr, "bench: --thp needs shmem huge pages for EAL's memory: "
				"echo advise > /sys/kernel/mm/transparent_hugepage/shmem_enabled\n");
		exit(2);
	}
}

/* Advises EAL's memory (one mapping per memseg list) before rte_hash touches it. */
static int advise_huge(const struct rte_memseg_list *msl, void *arg)
{
	(void)arg;
	if (madvise(msl->base_va, msl->len, MADV_HUGEPAGE) != 0)
		die("madvise(MADV_HUGEPAGE) of EAL memory", errno);
	return 0;
}

static void eal_init(bool thp)
{
	/* No hugepages, no devices, no files under /var/run; 1 GiB of ordinary memory is
	 * enough for the 4Mi-entry rte_hash (about 150 MiB). */
	char *args[] = { "bench", "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
			 "-m", "1024", "-l", "0", "--log-level=*:error", NULL };
	int n = (int)(sizeof(args) / sizeof(args[0])) - 1;
	if (rte_eal_init(n, args) < 0)
		die("rte_eal_init", rte_errno);
	if (thp)
		rte_memseg_list_walk(advise_huge, NULL);
}

int main(int argc, char **argv)
{
	struct options o;

	parse_options(argc, argv, &o);
	if (o.thp)
		require_shmem_thp();
	eal_init(o.thp);
	pin(pthread_self(), READER_CPU);
	printf("neigh vs rte_hash (RW_CONCURRENCY_LF, rte_hash_crc): rounds %u, lookups %zu per "
	       "side per round, seed %#" PRIx64 ", %s\n\n",
	       o.rounds, o.lookups, o.seed,
	       o.thp ? "transparent huge pages (madvise)" : "4 KiB pages");
	if (o.cases)
		run_cases(&o);
	if (o.writer)
		run_writer(&o);
	rte_eal_cleanup();
	return 0;
}
