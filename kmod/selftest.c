// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: in-kernel self tests, printed as KTAP.
 *
 * The tests never touch the live arena: each builds private arenas over a
 * range that is only a number (no backend dereferences the addresses it
 * hands out), so they run while the module is in use.
 *
 * Unit cases run the same scripted scenarios on every backend and expect
 * exact addresses: each fit type of a free block, alignment above the
 * size and equal to the arena, windows at the arena edges, top-down at
 * the edges, overflowing requests, a full arena, a one-page arena.
 *
 * The differential test replays one seeded random sequence of allocations
 * and frees on all backends at once and compares every result.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/prandom.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "arena.h"
#include "selftest.h"

/* A base aligned far beyond any alignment the tests ask for. */
#define KVS_ST_BASE	BIT(40)

/* === KTAP output === */

static __printf(2, 3) void kvs_out(struct kvs_ktap *t, const char *fmt, ...)
{
	va_list args;
	int n;

	if (t->len >= t->cap)
		return;
	va_start(args, fmt);
	n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, args);
	va_end(args);
	t->len = min_t(size_t, t->len + n, t->cap);
}

static __printf(3, 4) void kvs_result(struct kvs_ktap *t, bool ok,
				      const char *fmt, ...)
{
	char name[160];
	va_list args;

	va_start(args, fmt);
	vsnprintf(name, sizeof(name), fmt, args);
	va_end(args);
	t->nr++;
	if (!ok)
		t->failed++;
	kvs_out(t, "%s %u %s\n", ok ? "ok" : "not ok", t->nr, name);
}

/* === Private arenas === */

static int kvs_st_arena(struct kvs_arena *a, const struct kvs_backend *be,
			unsigned long size)
{
	memset(a, 0, sizeof(*a));
	a->base = KVS_ST_BASE;
	a->size = size;
	return kvs_arena_create(a, be, true);
}

/* === Unit cases === */

/*
 * One scripted step: allocate (expecting an offset from the base or an
 * errno), free a previous step's area, or fill the arena with pages.
 */
enum kvs_op { KVS_ALLOC, KVS_FREE, KVS_FILL, KVS_END };

struct kvs_step {
	enum kvs_op op;
	unsigned long size, align, vstart, vend;	/* vstart/vend: offsets */
	bool top;
	long want;	/* offset of the area, or -errno */
	int ref;	/* KVS_FREE: which earlier step's area */
};

struct kvs_case {
	const char *name;
	unsigned long arena;	/* arena size */
	struct kvs_step steps[8];
};

#define P	PAGE_SIZE
#define ALLOC(sz, off)	{ .op = KVS_ALLOC, .size = (sz), .want = (off) }
#define ALLOCA(sz, al, off) \
	{ .op = KVS_ALLOC, .size = (sz), .align = (al), .want = (off) }
#define ALLOCT(sz, off)	{ .op = KVS_ALLOC, .size = (sz), .top = true, .want = (off) }
#define ALLOCW(sz, vs, ve, t, off) \
	{ .op = KVS_ALLOC, .size = (sz), .vstart = (vs), .vend = (ve), \
	  .top = (t), .want = (off) }
#define FREE(step)	{ .op = KVS_FREE, .ref = (step) }
#define FILL(n)		{ .op = KVS_FILL, .want = (n) }

/* Areas take their size plus a guard page. */
static const struct kvs_case kvs_cases[] = {
	{ "full fit reuses a freed hole exactly", 64 * P, {
		ALLOC(2 * P, 0), ALLOC(3 * P, 3 * P), ALLOC(P, 7 * P),
		FREE(1), ALLOC(3 * P, 3 * P), { .op = KVS_END } } },
	{ "left-edge fit takes the bottom of a hole", 64 * P, {
		ALLOC(P, 0), ALLOC(7 * P, 2 * P), ALLOC(P, 10 * P),
		FREE(1), ALLOC(2 * P, 2 * P), ALLOC(P, 5 * P),
		{ .op = KVS_END } } },
	{ "right-edge fit takes the top of a hole", 64 * P, {
		ALLOC(P, 0), ALLOC(7 * P, 2 * P), ALLOC(P, 10 * P),
		FREE(1), ALLOCW(2 * P, 2 * P, 10 * P, true, 7 * P),
		{ .op = KVS_END } } },
	{ "no-edge fit splits a hole in three", 64 * P, {
		ALLOC(P, 0), ALLOC(13 * P, 2 * P), ALLOC(P, 16 * P),
		FREE(1), ALLOCA(P, 8 * P, 8 * P), ALLOC(P, 2 * P),
		ALLOCT(P, 62 * P), { .op = KVS_END } } },
	{ "align above the size skips unaligned space", 1024 * P, {
		ALLOC(P, 0), ALLOCA(P, 64 * P, 64 * P),
		ALLOCA(2 * P, 256 * P, 256 * P), ALLOC(P, 2 * P),
		{ .op = KVS_END } } },
	{ "align equal to the arena: only the base qualifies", 256 * P, {
		ALLOCA(P, 256 * P, 0), ALLOCA(P, 256 * P, -ENOMEM),
		FREE(0), ALLOCA(255 * P, 256 * P, 0), { .op = KVS_END } } },
	{ "windows touching both arena edges", 64 * P, {
		ALLOCW(P, 0, 2 * P, false, 0),
		ALLOCW(P, 62 * P, 64 * P, false, 62 * P),
		ALLOCW(P, 0, 4 * P, true, 2 * P),
		ALLOCW(P, 0, 4 * P, false, -ENOMEM), { .op = KVS_END } } },
	{ "top-down at the arena edges", 16 * P, {
		ALLOCT(P, 14 * P), ALLOCT(2 * P, 11 * P), ALLOCT(11 * P, -ENOMEM),
		ALLOCT(10 * P, 0), ALLOCT(P, -ENOMEM), { .op = KVS_END } } },
	{ "overflowing requests are refused", 64 * P, {
		ALLOCA(P, 1UL << (BITS_PER_LONG - 1), -ERANGE),
		ALLOC(ULONG_MAX, -ERANGE), ALLOCA(P, 3 * P, -EINVAL),
		ALLOC(0, -EINVAL), ALLOC(64 * P, -ERANGE),
		ALLOC(63 * P, 0), { .op = KVS_END } } },
	{ "a full arena refuses, then takes back every page", 64 * P, {
		FILL(32), ALLOC(P, -ENOMEM), FREE(0), ALLOC(P, 0),
		{ .op = KVS_END } } },
	{ "a one-page arena holds nothing with a guard", P, {
		ALLOC(P, -ERANGE), ALLOCT(1, -ERANGE), { .op = KVS_END } } },
};

/* Run one scripted case; false with @why set on the first surprise. */
static bool kvs_run_case(struct kvs_arena *a, const struct kvs_case *c,
			 char *why, size_t len)
{
	unsigned long addr[ARRAY_SIZE(c->steps)] = {}, got;
	const struct kvs_step *s;
	struct kvs_spec spec;
	struct kvs_err e;
	long res;
	int i, n;

	for (i = 0; i < ARRAY_SIZE(c->steps) && c->steps[i].op != KVS_END; i++) {
		s = &c->steps[i];
		switch (s->op) {
		case KVS_ALLOC:
			spec = (struct kvs_spec){ .size = s->size,
				.align = s->align, .top = s->top };
			if (s->vstart != s->vend) {
				spec.vstart = a->base + s->vstart;
				spec.vend = a->base + s->vend;
			}
			res = kvs_alloc(a, &spec, &got, &e);
			if (!res) {
				addr[i] = got;
				res = got - a->base;
			}
			if (res != s->want) {
				snprintf(why, len, "step %d: got %ld, want %ld", i,
					 res, s->want);
				return false;
			}
			break;
		case KVS_FREE:
			if (kvs_free(a, addr[s->ref], &e)) {
				snprintf(why, len, "step %d: %s", i, e.msg);
				return false;
			}
			break;
		case KVS_FILL:
			spec = (struct kvs_spec){ .size = P };
			for (n = 0; !kvs_alloc(a, &spec, &got, NULL); n++)
				if (!n)
					addr[i] = got;
			if (n != s->want) {
				snprintf(why, len, "step %d: filled %d, want %ld",
					 i, n, s->want);
				return false;
			}
			break;
		default:
			break;
		}
		if (kvs_check(a, &e)) {
			snprintf(why, len, "step %d: %s", i, e.msg);
			return false;
		}
	}
	return true;
}

static void kvs_unit_cases(struct kvs_ktap *t)
{
	const struct kvs_backend *be;
	struct kvs_arena *a;
	char why[128];
	int b, i;
	bool ok;

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a) {
		kvs_result(t, false, "unit cases: no memory");
		return;
	}
	for (b = 0; b < KVS_NR_BACKENDS; b++) {
		be = kvs_backends[b];
		for (i = 0; i < ARRAY_SIZE(kvs_cases); i++) {
			why[0] = '\0';
			if (kvs_st_arena(a, be, kvs_cases[i].arena)) {
				kvs_result(t, false, "%s: %s: no memory",
					   be->name, kvs_cases[i].name);
				continue;
			}
			ok = kvs_run_case(a, &kvs_cases[i], why, sizeof(why));
			kvs_arena_destroy(a);
			kvs_result(t, ok, "%s: %s", be->name, kvs_cases[i].name);
			if (!ok)
				kvs_out(t, "# %s\n", why);
		}
	}
	kfree(a);
}

/* === Differential test === */

#define KVS_DIFF_ARENA	(256UL << 20)
#define KVS_DIFF_LIVE	2048

struct kvs_diff {
	struct kvs_arena a[KVS_NR_BACKENDS];
	unsigned long live[KVS_DIFF_LIVE];
	unsigned int nr_live;
	struct rnd_state rnd;
};

static u32 kvs_rand(struct kvs_diff *d, u32 n)
{
	return prandom_u32_state(&d->rnd) % n;
}

/* A random request: sizes 1..256 pages, some aligned, windowed, top. */
static void kvs_diff_spec(struct kvs_diff *d, struct kvs_spec *s)
{
	unsigned long base = d->a[0].base, off, len;

	memset(s, 0, sizeof(*s));
	s->size = (kvs_rand(d, 256) + 1) * PAGE_SIZE;
	if (!kvs_rand(d, 64))
		s->size -= kvs_rand(d, PAGE_SIZE);	/* not a page multiple */
	if (kvs_rand(d, 3) == 0)
		s->align = PAGE_SIZE << kvs_rand(d, 14);
	s->top = kvs_rand(d, 4) == 0;
	if (kvs_rand(d, 5) == 0) {
		off = kvs_rand(d, KVS_DIFF_ARENA >> PAGE_SHIFT) << PAGE_SHIFT;
		len = (kvs_rand(d, 4096) + 1) << PAGE_SHIFT;
		s->vstart = base + off;
		s->vend = base + min(off + len, KVS_DIFF_ARENA);
	}
}

/* One operation on every backend; false if any result differs. */
static bool kvs_diff_step(struct kvs_diff *d, char *why, size_t len)
{
	unsigned long got[KVS_NR_BACKENDS], addr;
	int err[KVS_NR_BACKENDS], b;
	struct kvs_spec s;
	unsigned int i;

	if (d->nr_live == KVS_DIFF_LIVE ||
	    (d->nr_live && kvs_rand(d, 100) < 45)) {
		i = kvs_rand(d, d->nr_live);
		addr = d->live[i];
		d->live[i] = d->live[--d->nr_live];
		for (b = 0; b < KVS_NR_BACKENDS; b++)
			err[b] = kvs_free(&d->a[b], addr, NULL);
		for (b = 1; b < KVS_NR_BACKENDS; b++)
			if (err[b] != err[0])
				goto differ_free;
		return true;
	}

	kvs_diff_spec(d, &s);
	for (b = 0; b < KVS_NR_BACKENDS; b++) {
		got[b] = 0;
		err[b] = kvs_alloc(&d->a[b], &s, &got[b], NULL);
	}
	for (b = 1; b < KVS_NR_BACKENDS; b++)
		if (err[b] != err[0] || got[b] != got[0])
			goto differ_alloc;
	if (!err[0])
		d->live[d->nr_live++] = got[0];
	return true;

differ_alloc:
	snprintf(why, len,
		 "alloc size %lu align %lu window %#lx-%#lx%s: %s %d/%#lx, %s %d/%#lx",
		 s.size, s.align, s.vstart, s.vend, s.top ? " top" : "",
		 d->a[0].be->name, err[0], got[0], d->a[b].be->name, err[b],
		 got[b]);
	return false;
differ_free:
	snprintf(why, len, "free %#lx: %s %d, %s %d", addr, d->a[0].be->name,
		 err[0], d->a[b].be->name, err[b]);
	return false;
}

static bool kvs_diff_check(struct kvs_diff *d, char *why, size_t len)
{
	struct kvs_err e;
	int b;

	for (b = 0; b < KVS_NR_BACKENDS; b++) {
		if (kvs_check(&d->a[b], &e)) {
			snprintf(why, len, "%s", e.msg);
			return false;
		}
	}
	return true;
}

static void kvs_differential(struct kvs_ktap *t, u64 seed, unsigned long ops)
{
	unsigned long i = 0;
	struct kvs_diff *d;
	char why[256] = "";
	bool ok = true;
	int b, made;

	d = vzalloc(sizeof(*d));
	if (!d) {
		kvs_result(t, false, "differential: no memory");
		return;
	}
	prandom_seed_state(&d->rnd, seed);
	for (made = 0; made < KVS_NR_BACKENDS; made++)
		if (kvs_st_arena(&d->a[made], kvs_backends[made], KVS_DIFF_ARENA))
			break;
	if (made < KVS_NR_BACKENDS) {
		snprintf(why, sizeof(why), "no memory for the arenas");
		ok = false;
	}
	for (i = 0; ok && i < ops; i++) {
		ok = kvs_diff_step(d, why, sizeof(why));
		if (ok && (i + 1) % 1000 == 0) {
			ok = kvs_diff_check(d, why, sizeof(why));
			cond_resched();
			if (fatal_signal_pending(current)) {
				snprintf(why, sizeof(why), "interrupted");
				ok = false;
			}
		}
	}
	if (ok)
		ok = kvs_diff_check(d, why, sizeof(why));
	for (b = 0; b < made; b++)
		kvs_arena_destroy(&d->a[b]);
	kvs_out(t, "# differential: seed %llu\n", seed);
	kvs_result(t, ok, "differential: %lu of %lu ops equal on %d backends",
		   ok ? i : i - 1, ops, KVS_NR_BACKENDS);
	if (!ok)
		kvs_out(t, "# seed %llu op %lu: %s\n", seed, i, why);
	vfree(d);
}

/*
 * The report of the last finished run, read through debugfs.  A run
 * writes into a buffer of its own under kvs_selftest_lock (one run at a
 * time, held for all of it) and swaps it with the shown one at its end
 * under kvs_report_lock, which readers hold only while they copy: a
 * reader never waits for a run.
 */
static DEFINE_MUTEX(kvs_selftest_lock);
static DEFINE_MUTEX(kvs_report_lock);
static struct kvs_ktap kvs_report;	/* shown, under kvs_report_lock */
static struct kvs_ktap kvs_scratch;	/* written, under kvs_selftest_lock */

/**
 * kvs_selftest() - run every self test and keep the KTAP report.
 * @seed:   seed of the differential test (printed, so a failure replays).
 * @ops:    operations of the differential test.
 * @failed: how many cases failed.
 *
 * Context: process context; sleeps; a fatal signal stops it early.
 * Return: 0, -ENOMEM for the report buffer, -EINTR if interrupted
 * while waiting for another run to end.
 */
int kvs_selftest(u64 seed, unsigned long ops, unsigned int *failed)
{
	struct kvs_ktap *t = &kvs_scratch;

	if (mutex_lock_interruptible(&kvs_selftest_lock))
		return -EINTR;
	if (!t->buf) {
		t->cap = KVS_REPORT_BYTES;
		t->buf = kvmalloc(t->cap, GFP_KERNEL);
		if (!t->buf) {
			mutex_unlock(&kvs_selftest_lock);
			return -ENOMEM;
		}
	}
	t->len = 0;
	t->nr = 0;
	t->failed = 0;
	kvs_out(t, "KTAP version 1\n");
	kvs_out(t, "1..%zu\n", KVS_NR_BACKENDS * ARRAY_SIZE(kvs_cases) + 1);
	kvs_unit_cases(t);
	kvs_differential(t, seed, ops);
	kvs_out(t, "# kvashim selftest: pass:%u fail:%u\n",
		t->nr - t->failed, t->failed);
	*failed = t->failed;
	mutex_lock(&kvs_report_lock);
	swap(kvs_report, kvs_scratch);
	mutex_unlock(&kvs_report_lock);
	mutex_unlock(&kvs_selftest_lock);
	return 0;
}

/**
 * kvs_selftest_show() - print the last report.
 * @m: the debugfs file.
 */
void kvs_selftest_show(struct seq_file *m)
{
	mutex_lock(&kvs_report_lock);
	if (kvs_report.buf)
		seq_write(m, kvs_report.buf, kvs_report.len);
	mutex_unlock(&kvs_report_lock);
}

/**
 * kvs_selftest_exit() - free the reports at unload.
 */
void kvs_selftest_exit(void)
{
	kvfree(kvs_report.buf);
	kvfree(kvs_scratch.buf);
	kvs_report.buf = NULL;
	kvs_scratch.buf = NULL;
}
