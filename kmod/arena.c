// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: the allocator front.
 *
 * Validates requests, turns them into the placement rule every backend
 * obeys (struct kvs_req), owns the tracking objects and the counters, and
 * checks what a backend reports against what it was told.
 *
 * Locking: a->state_sem (a per-CPU rw-semaphore) is taken for read around
 * every backend operation and for write where the backend itself changes
 * or the whole index must hold still (switch, reset, check, teardown).
 * Each backend has its own lock for its index; see its file.
 *
 * Ownership: every area has exactly one owner at a time (enum kvs_own in
 * arena.h), and it changes only through kvs_own_move().  This file is
 * where a request is resolved to an owner: an allocation owns its area
 * (NEW) until it hands it to the user (LIVE); a free claims it from the
 * user (LIVE to FREE) and then, as owner, either retires it to the lazy
 * list (populated areas, purge.c), takes it out of its chunk (pcpu.c) or
 * has the backend unlink exactly that object.  Whoever loses a claim was
 * racing the owner and is told who that is; nobody acts on an area it
 * does not own.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched/clock.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "arena.h"
#include "backing.h"
#include "inject.h"
#include "pcpu.h"
#include "trace.h"

/* === Data === */

const char *const kvs_stat_names[KVS_NR_STATS] = {
	[KVS_ST_ALLOCS]			= "allocs",
	[KVS_ST_FREES]			= "frees",
	[KVS_ST_BYTES_ALLOC]		= "bytes_allocated",
	[KVS_ST_BYTES_FREED]		= "bytes_freed",
	[KVS_ST_FAIL_EINVAL]		= "fail_einval",
	[KVS_ST_FAIL_ENOMEM]		= "fail_enomem",
	[KVS_ST_FAIL_ENOENT]		= "fail_enoent",
	[KVS_ST_FAIL_EBUSY]		= "fail_ebusy",
	[KVS_ST_FAIL_ERANGE]		= "fail_erange",
	[KVS_ST_FAIL_OTHER]		= "fail_other",
	[KVS_ST_GAP_SEARCHES]		= "gap_searches",
	[KVS_ST_MT_STORES]		= "mt_stores",
	[KVS_ST_MT_ERASES]		= "mt_erases",
	[KVS_ST_MT_WALKS]		= "mt_walks",
	[KVS_ST_MT_SLOW_INSERTS]	= "mt_slow_inserts",
	[KVS_ST_MT_INSERT_RACES]	= "mt_insert_races",
	[KVS_ST_MT_LEAF_COPIES]		= "mt_leaf_copies",
	[KVS_ST_MT_TOMBS]		= "mt_tombstones",
	[KVS_ST_MT_TOMB_REUSES]		= "mt_tomb_reuses",
	[KVS_ST_RB_INSERTS]		= "rb_inserts",
	[KVS_ST_RB_ERASES]		= "rb_erases",
	[KVS_ST_RB_AUGMENT]		= "rb_augment_steps",
	[KVS_ST_RB_MERGES]		= "rb_merges",
	[KVS_ST_LIST_WALKED]		= "list_nodes_walked",
	[KVS_ST_PCPU_HITS]		= "pcpu_hits",
	[KVS_ST_PCPU_MISSES]		= "pcpu_misses",
	[KVS_ST_PCPU_REFILLS]		= "pcpu_refills",
	[KVS_ST_PCPU_RELEASES]		= "pcpu_releases",
};

static_assert(ARRAY_SIZE(kvs_stat_names) == KVS_NR_STATS);

const struct kvs_backend *const kvs_backends[KVS_NR_BACKENDS] = {
	&kvs_be_maple,
	&kvs_be_maple_dual,
	&kvs_be_rbtree,
	&kvs_be_list,
	&kvs_be_maple_rfc,
};

/*
 * How often a teardown frees and purges again while memory is short: 10 s
 * in all, after which it gives up loudly rather than hang rmmod.
 */
#define KVS_TEARDOWN_TRIES	500

/* Tracking objects come from their own slab, never from the arena. */
static struct kmem_cache *kvs_area_cachep;
/* Tracking objects allocated and not yet given back to the slab. */
static atomic_long_t kvs_area_objs = ATOMIC_LONG_INIT(0);

/* === Internals === */

/**
 * kvs_fail() - record why an operation failed.
 * @e:   where the reason goes; may be NULL for in-kernel callers.
 * @err: the negative errno to return.
 * @fmt: one line, no trailing newline.
 *
 * Return: @err, so that callers can write "return kvs_fail(...)".
 */
int kvs_fail(struct kvs_err *e, int err, const char *fmt, ...)
{
	va_list args;

	if (e) {
		va_start(args, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, args);
		va_end(args);
	}
	return err;
}

static void kvs_count_fail(struct kvs_arena *a, int err)
{
	switch (err) {
	case -EINVAL:
		kvs_count(a, KVS_ST_FAIL_EINVAL);
		break;
	case -ENOMEM:
		kvs_count(a, KVS_ST_FAIL_ENOMEM);
		break;
	case -ENOENT:
		kvs_count(a, KVS_ST_FAIL_ENOENT);
		break;
	case -EBUSY:
		kvs_count(a, KVS_ST_FAIL_EBUSY);
		break;
	case -ERANGE:
		kvs_count(a, KVS_ST_FAIL_ERANGE);
		break;
	default:
		kvs_count(a, KVS_ST_FAIL_OTHER);
		break;
	}
}

/**
 * kvs_stat_sum() - a counter summed over all CPUs.
 * @a:  the arena.
 * @id: which counter.
 *
 * Approximate while operations are in flight, exact under
 * a->state_sem held for write.
 */
unsigned long kvs_stat_sum(struct kvs_arena *a, enum kvs_stat id)
{
	unsigned long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu_ptr(a->stats, cpu)->v[id];
	return sum;
}

/**
 * kvs_live() - live areas, from the counters.
 * @a: the arena.
 *
 * Return: allocations minus frees; exact when nothing is in flight.
 */
unsigned long kvs_live(struct kvs_arena *a)
{
	return kvs_stat_sum(a, KVS_ST_ALLOCS) - kvs_stat_sum(a, KVS_ST_FREES);
}

static unsigned long kvs_live_bytes(struct kvs_arena *a)
{
	return kvs_stat_sum(a, KVS_ST_BYTES_ALLOC) -
	       kvs_stat_sum(a, KVS_ST_BYTES_FREED);
}

static void kvs_area_free_rcu(struct rcu_head *head)
{
	struct kvs_area *va = container_of(head, struct kvs_area, rcu);

	/* Its pages went back at the purge; only the array is left. */
	kvfree(va->bk);
	atomic_long_dec(&kvs_area_objs);
	kmem_cache_free(kvs_area_cachep, va);
}

/*
 * An area that was never published: free it at once, pages included, and
 * give back the RAM they were counted against.
 */
static void kvs_area_discard(struct kvs_arena *a, struct kvs_area *va)
{
	if (va->bk)
		kvs_bk_put(a, va->bk);
	atomic_long_dec(&kvs_area_objs);
	kmem_cache_free(kvs_area_cachep, va);
}

/**
 * kvs_area_free() - free a tracking object after an RCU grace period.
 * @a:  the arena it belonged to.
 * @va: the object, already unlinked from the index.
 *
 * Lookups walk the index under rcu_read_lock() only, so an unlinked area
 * may still be seen by a reader until the grace period ends.
 */
void kvs_area_free(struct kvs_arena *a, struct kvs_area *va)
{
	call_rcu(&va->rcu, kvs_area_free_rcu);
}

/*
 * kvs_window() - the window of a request, checked against the arena.
 *
 * A window given with vstart = vend = 0 is the whole arena.  Its ends are
 * rounded inwards to whole pages.
 */
static int kvs_window(struct kvs_arena *a, const struct kvs_spec *s,
		      struct kvs_req *r, struct kvs_err *e)
{
	unsigned long lo = a->base, hi = a->base + a->size;

	if (!s->vstart && !s->vend) {
		r->vstart = lo;
		r->vend = hi;
		return 0;
	}
	if (s->vstart >= s->vend)
		return kvs_fail(e, -EINVAL,
				"window [%#lx, %#lx) is empty or inverted",
				s->vstart, s->vend);
	if (s->vstart < lo || s->vend > hi)
		return kvs_fail(e, -ERANGE,
				"window [%#lx, %#lx) is outside the arena [%#lx, %#lx)",
				s->vstart, s->vend, lo, hi);
	r->vstart = PAGE_ALIGN(s->vstart);
	r->vend = PAGE_ALIGN_DOWN(s->vend);
	if (r->vstart >= r->vend)
		return kvs_fail(e, -EINVAL,
				"window [%#lx, %#lx) holds no whole page",
				s->vstart, s->vend);
	return 0;
}

/*
 * kvs_pad() - the gap length to search for, given the alignment.
 *
 * Searching for span + align - 1 makes the first gap found alignable, so
 * one search suffices.  When the padded length cannot fit in the window,
 * at most one aligned start exists there: the window shrinks to exactly
 * that candidate and the search only has to confirm it is free.
 */
static int kvs_pad(struct kvs_req *r, struct kvs_err *e)
{
	unsigned long first;

	r->need = r->span;
	if (r->align <= PAGE_SIZE)
		return 0;
	if (!check_add_overflow(r->span, r->align - 1, &r->need) &&
	    r->need <= r->vend - r->vstart)
		return 0;

	if (check_add_overflow(r->vstart, r->align - 1, &first))
		return kvs_fail(e, -ERANGE, "align %#lx overflows the window",
				r->align);
	first &= ~(r->align - 1);
	if (first > r->vend - r->span)
		return kvs_fail(e, -ERANGE,
				"no address aligned to %#lx leaves %lu bytes in [%#lx, %#lx)",
				r->align, r->span, r->vstart, r->vend);
	r->vstart = first;
	r->vend = first + r->span;
	r->need = r->span;
	r->align = PAGE_SIZE;
	return 0;
}

/*
 * kvs_build_req() - validate a caller's spec and derive the request.
 * @size: set to the usable size, in whole pages.
 */
static int kvs_build_req(struct kvs_arena *a, const struct kvs_spec *s,
			 struct kvs_req *r, unsigned long *size,
			 struct kvs_err *e)
{
	unsigned long align = s->align ? s->align : PAGE_SIZE;
	int err;

	if (!s->size)
		return kvs_fail(e, -EINVAL, "size must be at least one byte");
	if (s->size > a->size)
		return kvs_fail(e, -ERANGE,
				"size %lu exceeds the arena (%lu bytes)",
				s->size, a->size);
	if (!is_power_of_2(align))
		return kvs_fail(e, -EINVAL, "align %#lx is not a power of two",
				align);
	if (align > a->size)
		return kvs_fail(e, -ERANGE,
				"align %#lx exceeds the arena (%lu bytes)",
				align, a->size);
	if (s->populate && !a->purge)
		return kvs_fail(e, -EINVAL,
				"this arena has no reservation to map pages in");
	if (s->populate && PAGE_ALIGN(s->size) >> PAGE_SHIFT > kvs_bk_limit())
		return kvs_fail(e, -ERANGE,
				"populating %lu bytes would take over half of RAM",
				s->size);

	err = kvs_window(a, s, r, e);
	if (err)
		return err;

	*size = PAGE_ALIGN(s->size);
	r->span = *size + (a->guard ? PAGE_SIZE : 0);
	r->align = max(align, PAGE_SIZE);
	r->top = s->top;
	if (r->span > r->vend - r->vstart)
		return kvs_fail(e, -ERANGE,
				"%lu bytes%s do not fit in the %lu-byte window",
				r->span, a->guard ? " (with guard page)" : "",
				r->vend - r->vstart);
	return kvs_pad(r, e);
}

/* === Public interface === */

static int kvs_backend_id(const struct kvs_backend *be)
{
	int i;

	for (i = 0; i < KVS_NR_BACKENDS; i++)
		if (kvs_backends[i] == be)
			return i;
	return -1;
}

/*
 * A tracking object for the request, with its pages when it is to be
 * populated: they are allocated before the range is reserved, so that a
 * page allocation failure leaves the index untouched.
 */
static struct kvs_area *kvs_area_new(struct kvs_arena *a,
				     const struct kvs_spec *s,
				     unsigned long size, struct kvs_err *e)
{
	struct kvs_area *va;
	int err;

	va = kvs_fault(a, KVS_INJ_AREA) ? NULL :
	     kmem_cache_zalloc(kvs_area_cachep, GFP_KERNEL);
	if (!va)
		return ERR_PTR(kvs_fail(e, -ENOMEM,
					"no memory for a tracking object"));
	atomic_long_inc(&kvs_area_objs);
	va->size = size;
	va->flags = (a->guard ? KVS_AF_GUARD : 0) | (s->top ? KVS_AF_TOP : 0);
	atomic_set(&va->own, KVS_OWN_NEW);
	if (!s->populate)
		return va;
	err = kvs_bk_get(a, va, e);
	if (err) {
		atomic_long_dec(&kvs_area_objs);
		kmem_cache_free(kvs_area_cachep, va);
		return ERR_PTR(err);
	}
	return va;
}

/*
 * Place @va: from this CPU's chunk when the request is eligible, from the
 * backend otherwise.  Populated areas always take the backend: a chunk's
 * areas are given back one by one, a populated one only by the purge.
 * Context: a->state_sem held for read.
 */
static int kvs_place(struct kvs_arena *a, struct kvs_area *va,
		     const struct kvs_spec *s, const struct kvs_req *r,
		     int *path)
{
	kvs_assert_state(a);
	if (!va->bk && kvs_pcpu_eligible(a, s, r->span) &&
	    !kvs_pcpu_alloc(a, va, r->span)) {
		*path = KVS_PATH_PCPU;
		return 0;
	}
	return a->be->alloc(a, va, r);
}

/**
 * kvs_alloc() - reserve an area of the arena.
 * @a:    the arena.
 * @s:    size, alignment, window, direction and whether to populate.
 * @addr: start of the new area, on success.
 * @e:    the reason, on failure (may be NULL).
 *
 * Past twice the lazy threshold the caller purges first; when no gap
 * fits and freed areas await the purge, it purges and tries once more.
 * Context: process context; may sleep.
 * Return: 0, -EINVAL or -ERANGE for a request that can never succeed,
 * -ENOMEM when no gap fits now or memory (metadata, pages, page tables)
 * could not be allocated.
 */
int kvs_alloc(struct kvs_arena *a, const struct kvs_spec *s,
	      unsigned long *addr, struct kvs_err *e)
{
	u64 t0 = kvs_trace_clock(trace_kvashim_alloc_enabled());
	int path = KVS_PATH_GLOBAL;
	struct kvs_area *va;
	struct kvs_req r;
	unsigned long size;
	bool lazy_owns = false;
	int err;

	might_sleep();
	err = kvs_build_req(a, s, &r, &size, e);
	if (err)
		goto fail;
	va = kvs_area_new(a, s, size, e);
	if (IS_ERR(va)) {
		err = PTR_ERR(va);
		goto fail;
	}
	kvs_purge_throttle(a);

	percpu_down_read(&a->state_sem);
	err = kvs_place(a, va, s, &r, &path);
	if (err == -ENOMEM && kvs_lazy_areas(a)) {
		percpu_up_read(&a->state_sem);
		kvs_purge_retry(a);
		percpu_down_read(&a->state_sem);
		err = kvs_place(a, va, s, &r, &path);
	}
	if (err) {
		kvs_fail(e, err, "%s: no free gap of %lu bytes in [%#lx, %#lx)",
			 a->be->name, r.need, r.vstart, r.vend);
	} else if (va->bk) {
		err = kvs_bk_populate(a, va, e);
		/* On failure the lazy list owns @va: it is not ours to free. */
		lazy_owns = !!err;
	}
	if (!err) {
		*addr = va->start;
		kvs_count(a, KVS_ST_ALLOCS);
		kvs_count_n(a, KVS_ST_BYTES_ALLOC, size);
		/* The user's from here: a free may take it at once. */
		kvs_own_move(va, KVS_OWN_NEW, KVS_OWN_LIVE);
	}
	percpu_up_read(&a->state_sem);

	if (err) {
		if (!lazy_owns)
			kvs_area_discard(a, va);
		goto fail;
	}
	trace_kvashim_alloc(*addr, size, r.align, kvs_backend_id(a->be),
			    path, 0, kvs_trace_lat(t0));
	return 0;
fail:
	kvs_count_fail(a, err);
	trace_kvashim_alloc(0, s->size, s->align, kvs_backend_id(a->be),
			    KVS_PATH_GLOBAL, err, kvs_trace_lat(t0));
	return err;
}

/**
 * kvs_lookup() - the indexed area containing @addr, inside chunks too.
 * @a:    the arena.
 * @addr: any address of the area or its guard page.
 *
 * The area may have any owner (enum kvs_own): the caller decides by it.
 * A chunk's reservation is never returned, only the areas inside it.
 * Context: rcu_read_lock() held; a->state_sem held for read.
 * Return: the area, valid until rcu_read_unlock(), or NULL.
 */
struct kvs_area *kvs_lookup(struct kvs_arena *a, unsigned long addr)
{
	struct kvs_area *va;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "area lookup outside RCU");
	kvs_assert_state(a);
	va = a->be->lookup(a, addr);

	if (va && (va->flags & KVS_AF_CHUNK))
		va = kvs_pcpu_lookup(va, addr);
	return va;
}

/*
 * Why a free of @addr cannot claim @va, the area the lookup found there
 * (or NULL), in one line.  The owner named is the one that won.
 * Context: rcu_read_lock() held.
 */
static int kvs_free_refused(unsigned long addr, const struct kvs_area *va,
			    struct kvs_err *e)
{
	if (!va)
		return kvs_fail(e, -ENOENT, "no live area starts at %#lx", addr);
	if (va->start != addr && !kvs_own_freed(kvs_own(va)))
		return kvs_fail(e, -ENOENT,
				"%#lx is inside the area at %#lx (%lu bytes)",
				addr, va->start, va->size);
	if (va->start != addr)
		return kvs_fail(e, -ENOENT, "no live area starts at %#lx", addr);
	switch (kvs_own(va)) {
	case KVS_OWN_NEW:
		return kvs_fail(e, -EBUSY, "area at %#lx is still being mapped",
				addr);
	case KVS_OWN_TOUCH:
		return kvs_fail(e, -EBUSY, "area at %#lx is being touched",
				addr);
	case KVS_OWN_FREE:
		return kvs_fail(e, -ENOENT, "area at %#lx is being freed",
				addr);
	case KVS_OWN_LAZY:
	case KVS_OWN_PURGE:
		return kvs_fail(e, -ENOENT,
				"area at %#lx was freed; it awaits the lazy purge",
				addr);
	default:
		/* LIVE a moment ago: another free claimed it first. */
		return kvs_fail(e, -ENOENT, "area at %#lx was freed meanwhile",
				addr);
	}
}

/*
 * Claim the area that starts at @addr from its user: LIVE to FREE.
 * Context: a->state_sem held for read.
 * Return: the area, now the caller's, or an ERR_PTR() with the reason.
 */
static struct kvs_area *kvs_free_claim(struct kvs_arena *a,
				       unsigned long addr, struct kvs_err *e)
{
	struct kvs_area *va;
	int err = 0;

	rcu_read_lock();
	va = kvs_lookup(a, addr);
	if (!va || va->start != addr ||
	    !kvs_own_move(va, KVS_OWN_LIVE, KVS_OWN_FREE))
		err = kvs_free_refused(addr, va, e);
	rcu_read_unlock();
	return err ? ERR_PTR(err) : va;
}

/*
 * Take an area the caller owns (FREE) out of its place: a populated one
 * to the lazy list, a chunk's out of its chunk, any other out of the
 * backend's index.  On failure the area goes back to its user.
 * Context: a->state_sem held for read.
 * Return: 0, -ENOMEM (the index could not shrink), -EUCLEAN (the index
 * does not hold the area: a kvashim bug).
 */
static int kvs_free_owned(struct kvs_arena *a, struct kvs_area *va,
			  int *path, struct kvs_err *e)
{
	int err;

	if (va->bk) {
		*path = KVS_PATH_LAZY;
		kvs_lazy_retire(a, va);
		return 0;
	}
	if (va->flags & KVS_AF_PCPU) {
		*path = KVS_PATH_PCPU;
		kvs_pcpu_unlink(a, va);
		return 0;
	}
	err = a->be->unlink(a, va);
	if (!err)
		return 0;
	kvs_own_move(va, KVS_OWN_FREE, KVS_OWN_LIVE);
	if (err == -ENOMEM)
		return kvs_fail(e, err,
				"no memory to unlink the area at %#lx; it stays live",
				va->start);
	return kvs_fail(e, -EUCLEAN, "%s does not index the area at %#lx",
			a->be->name, va->start);
}

/**
 * kvs_free() - release the area that starts at @addr.
 * @a:    the arena.
 * @addr: the area's first byte.
 * @e:    the reason, on failure (may be NULL).
 *
 * A populated area is unmapped and put on the lazy list: its pages and
 * range return at the next purge.  Any other area returns at once.
 * Context: process context; may sleep.
 * Return: 0, -ENOENT when no live area starts at @addr (unknown,
 * interior or already freed), -EBUSY while the area is being mapped or
 * touched, -ENOMEM when the index could not shrink; the reason in @e.
 */
int kvs_free(struct kvs_arena *a, unsigned long addr, struct kvs_err *e)
{
	u64 t0 = kvs_trace_clock(trace_kvashim_free_enabled());
	int path = KVS_PATH_GLOBAL;
	struct kvs_area *va;
	unsigned long size = 0;
	int err = 0;

	might_sleep();
	percpu_down_read(&a->state_sem);
	va = kvs_free_claim(a, addr, e);
	if (IS_ERR(va))
		err = PTR_ERR(va);
	else
		err = kvs_free_owned(a, va, &path, e);
	if (!err) {
		size = va->size;
		kvs_count(a, KVS_ST_FREES);
		kvs_count_n(a, KVS_ST_BYTES_FREED, size);
	}
	percpu_up_read(&a->state_sem);

	if (err) {
		kvs_count_fail(a, err);
		trace_kvashim_free(addr, 0, 0, kvs_backend_id(a->be),
				   path, err, kvs_trace_lat(t0));
		return err;
	}
	trace_kvashim_free(addr, size, 0, kvs_backend_id(a->be),
			   path, 0, kvs_trace_lat(t0));
	/* A lazy area is the lazy list's now; any other is dead and ours. */
	if (path != KVS_PATH_LAZY)
		kvs_area_free(a, va);
	return 0;
}

/**
 * kvs_free_all() - free every live area, lowest address first.
 * @a: the arena.
 *
 * Return: how many were freed.
 */
unsigned long kvs_free_all(struct kvs_arena *a)
{
	unsigned long addr = a->base, n = 0;
	struct kvs_area cur;

	/*
	 * An area freed already (lazy, awaiting the purge) or that cannot be
	 * freed now (no memory, or being touched) is stepped over.
	 */
	while (kvs_next(a, addr, &cur)) {
		if (kvs_own(&cur) == KVS_OWN_LIVE && !kvs_free(a, cur.start, NULL))
			n++;
		else
			addr = cur.end;
		cond_resched();
	}
	/* The chunks still current on their CPUs are empty: give them back. */
	percpu_down_read(&a->state_sem);
	kvs_pcpu_drain(a);
	percpu_up_read(&a->state_sem);
	return n;
}

/*
 * A copy handed out of the index carries no pointer into it: what the
 * backing says is turned into copy-only flags.
 * Context: rcu_read_lock() held, @va read under it.
 */
static void kvs_area_copy(struct kvs_area *out, const struct kvs_area *va)
{
	*out = *va;
	if (va->bk)
		out->flags |= KVS_AF_BACKED;
	if (kvs_own_freed(kvs_own(va)))
		out->flags |= KVS_AF_LAZY;
	out->bk = NULL;
	out->chunk = NULL;
}

/**
 * kvs_next() - copy the first live area at or above @addr into @out.
 * @a:    the arena.
 * @addr: where to start looking.
 * @out:  a copy of the area found.
 *
 * Return: whether one was found.
 */
bool kvs_next(struct kvs_arena *a, unsigned long addr, struct kvs_area *out)
{
	struct kvs_area *chunk;
	bool found;

	percpu_down_read(&a->state_sem);
	/* Chunks are freed after a grace period: out->chunk stays valid. */
	rcu_read_lock();
	/* @addr inside a chunk: the backend's next() would skip the rest of it. */
	chunk = a->pcpu ? a->be->lookup(a, addr) : NULL;
	if (chunk && (chunk->flags & KVS_AF_CHUNK)) {
		found = kvs_pcpu_next(chunk, addr, out);
		if (found)
			goto out;
		addr = chunk->end;
	}
	while ((found = a->be->next(a, addr, out))) {
		if (!(out->flags & KVS_AF_CHUNK) || kvs_pcpu_next(out, addr, out))
			break;
		addr = out->end;
	}
out:
	if (found)
		kvs_area_copy(out, out);
	rcu_read_unlock();
	percpu_up_read(&a->state_sem);
	return found;
}

/**
 * kvs_next_reserved() - copy the first reservation at or above @addr.
 * @a:    the arena.
 * @addr: where to start looking.
 * @out:  a copy of what the backend indexes there.
 *
 * Unlike kvs_next(), a per-CPU chunk is one reservation (KVS_AF_CHUNK),
 * not the areas it serves: the view of the placement rule, for which the
 * whole chunk is taken.  A freed area awaiting the purge is still indexed
 * and is returned, with KVS_AF_LAZY set.
 *
 * Takes a->state_sem for read and RCU for this one step, as kvs_next()
 * does: a walk holds neither between steps, so that a long walk never
 * holds up a backend switch, nor the allocations queued behind it.
 *
 * Return: whether one was found.
 */
bool kvs_next_reserved(struct kvs_arena *a, unsigned long addr,
		       struct kvs_area *out)
{
	bool found;

	percpu_down_read(&a->state_sem);
	rcu_read_lock();
	found = a->be->next(a, addr, out);
	if (found)
		kvs_area_copy(out, out);
	rcu_read_unlock();
	percpu_up_read(&a->state_sem);
	return found;
}

/**
 * kvs_usage() - the backend's index size and largest free gap.
 * @a: the arena.
 * @u: filled in.
 */
void kvs_usage(struct kvs_arena *a, struct kvs_usage *u)
{
	memset(u, 0, sizeof(*u));
	percpu_down_read(&a->state_sem);
	a->be->usage(a, u);
	percpu_up_read(&a->state_sem);
}

/**
 * kvs_trim() - have the backend give back index space kept for reuse.
 * @a: the arena.
 *
 * Best effort: what the index cannot give back now stays free space.
 * Context: process context, a->state_sem not held; may sleep.
 */
void kvs_trim(struct kvs_arena *a)
{
	might_sleep();
	percpu_down_read(&a->state_sem);
	if (a->be->trim)
		a->be->trim(a);
	percpu_up_read(&a->state_sem);
}

/**
 * kvs_area_bytes() - bytes one tracking object takes in its slab.
 *
 * Return: the slab's object size.
 */
unsigned long kvs_area_bytes(void)
{
	return kmem_cache_size(kvs_area_cachep);
}

/**
 * kvs_find() - copy the live area containing @addr into @out.
 * @a:    the arena.
 * @addr: any address in the area or its guard page.
 * @out:  a copy of the area found; a freed area awaiting the purge is
 *        not live and is not found.
 *
 * Return: whether one was found.
 */
bool kvs_find(struct kvs_arena *a, unsigned long addr, struct kvs_area *out)
{
	struct kvs_area *va;

	percpu_down_read(&a->state_sem);
	rcu_read_lock();
	va = kvs_lookup(a, addr);
	if (va && kvs_own_freed(kvs_own(va)))
		va = NULL;
	if (va)
		kvs_area_copy(out, va);
	rcu_read_unlock();
	percpu_up_read(&a->state_sem);
	return va;
}

/**
 * kvs_check_area() - the invariants every live area must hold.
 * @a:  the arena.
 * @c:  the walk so far; areas must come in increasing address order.
 * @va: the next area.
 *
 * Return: 0 or -EUCLEAN with @c->reason set.
 */
int kvs_check_area(struct kvs_arena *a, struct kvs_check *c,
		   const struct kvs_area *va)
{
	unsigned long guard = (va->flags & KVS_AF_GUARD) ? PAGE_SIZE : 0;

	kvs_assert_state(a);
	if ((va->flags & KVS_AF_CHUNK) && a->pcpu)
		return kvs_pcpu_check(a, c, va);
	if (!PAGE_ALIGNED(va->start) || !PAGE_ALIGNED(va->size) || !va->size)
		goto bad;
	if (va->end - va->start != va->size + guard)
		goto bad;
	if (va->start < a->base || va->end > a->base + a->size ||
	    va->end <= va->start)
		goto bad;
	if (va->start < c->prev_end) {
		snprintf(c->reason, sizeof(c->reason),
			 "area %#lx overlaps or precedes the previous area (ends %#lx)",
			 va->start, c->prev_end);
		return -EUCLEAN;
	}
	/* Nothing is in flight: a free or a purge would hold state_sem. */
	switch (kvs_own(va)) {
	case KVS_OWN_LIVE:
	case KVS_OWN_TOUCH:
	case KVS_OWN_LAZY:
		break;
	default:
		snprintf(c->reason, sizeof(c->reason),
			 "area %#lx is indexed with owner %d outside any operation",
			 va->start, kvs_own(va));
		return -EUCLEAN;
	}
	if (kvs_bk_check(a, c, va))
		return -EUCLEAN;
	c->span += va->end - va->start;
	c->prev_end = va->end;
	if (kvs_own(va) == KVS_OWN_LAZY) {
		c->lazy++;
		return 0;
	}
	c->nr++;
	c->bytes += va->size;
	return 0;
bad:
	snprintf(c->reason, sizeof(c->reason),
		 "area %#lx-%#lx size %lu flags %#x is malformed or outside the arena",
		 va->start, va->end, va->size, va->flags);
	return -EUCLEAN;
}

/**
 * kvs_check() - verify the whole index while it holds still.
 * @a: the arena.
 * @e: the first violation, or on success "ok N areas M bytes".
 *
 * The backend walks its areas through kvs_check_area() and checks its own
 * structure; then the totals must equal the counters, and the freed
 * areas still indexed the lazy list's count.
 * Return: 0, -EUCLEAN with the first violation in @e, or -ENOMEM when a
 * backend lacked the memory to finish its own part (maple-dual rebuilding
 * a stale free tree).
 */
int kvs_check(struct kvs_arena *a, struct kvs_err *e)
{
	struct kvs_check c = { .prev_end = a->base };
	unsigned long live, bytes, lazy;
	int err;

	might_sleep();
	percpu_down_write(&a->state_sem);
	err = a->be->check(a, &c);
	live = kvs_live(a);
	bytes = kvs_live_bytes(a);
	lazy = kvs_lazy_areas(a);
	percpu_up_write(&a->state_sem);

	if (err)
		return kvs_fail(e, err, "%s: %s", a->be->name, c.reason);
	if (c.nr != live || c.bytes != bytes)
		return kvs_fail(e, -EUCLEAN,
				"%s: index holds %lu areas / %lu bytes, counters say %lu / %lu",
				a->be->name, c.nr, c.bytes, live, bytes);
	if (c.lazy != lazy)
		return kvs_fail(e, -EUCLEAN,
				"%s: index holds %lu freed areas, the lazy list %lu",
				a->be->name, c.lazy, lazy);
	if (lazy)
		return kvs_fail(e, 0, "ok %lu areas %lu bytes %lu lazy", c.nr,
				c.bytes, lazy);
	return kvs_fail(e, 0, "ok %lu areas %lu bytes", c.nr, c.bytes);
}

const struct kvs_backend *kvs_backend_by_name(const char *name)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(kvs_backends); i++)
		if (!strcmp(kvs_backends[i]->name, name))
			return kvs_backends[i];
	return NULL;
}

/**
 * kvs_switch_backend() - index the arena with another backend.
 * @a:    the arena.
 * @name: the backend's name.
 * @e:    the reason, on failure.
 *
 * Freed populated areas are purged first: only live areas keep the
 * index busy.
 * Return: 0, -ENOENT for an unknown name, -EBUSY while areas are live.
 */
int kvs_switch_backend(struct kvs_arena *a, const char *name,
		       struct kvs_err *e)
{
	const struct kvs_backend *be = kvs_backend_by_name(name);
	void *priv;
	int err = 0;

	if (!be)
		return kvs_fail(e, -ENOENT, "unknown backend \"%s\"", name);

	percpu_down_write(&a->state_sem);
	kvs_pcpu_drain(a);
	kvs_purge_locked(a);
	if (kvs_live(a)) {
		err = kvs_fail(e, -EBUSY, "%lu areas are live; free them first",
			       kvs_live(a));
		goto out;
	}
	if (kvs_lazy_areas(a)) {
		err = kvs_fail(e, -EBUSY,
			       "%lu freed areas could not be purged (no memory)",
			       kvs_lazy_areas(a));
		goto out;
	}
	if (kvs_pcpu_chunks(a)) {
		err = kvs_fail(e, -EBUSY,
			       "%lu empty chunks could not be given back (no memory)",
			       kvs_pcpu_chunks(a));
		goto out;
	}
	if (be == a->be)
		goto out;
	/* Start the new index before stopping the old one: no gap. */
	priv = be->init(a);
	if (IS_ERR(priv)) {
		err = kvs_fail(e, PTR_ERR(priv),
			       "backend %s failed to start; keeping %s",
			       be->name, a->be->name);
		goto out;
	}
	a->be->fini(a);
	a->be = be;
	a->be_priv = priv;
out:
	percpu_up_write(&a->state_sem);
	return err;
}

/**
 * kvs_set_pcpu() - switch the per-CPU overlay on or off.
 * @a:  the arena; a->chunk_size gives the chunk size.
 * @on: the new state.
 * @e:  the reason, on failure.
 *
 * Return: 0, -ENOMEM, or -EBUSY when switching off while chunks hold live
 * areas.
 */
int kvs_set_pcpu(struct kvs_arena *a, bool on, struct kvs_err *e)
{
	int err;

	percpu_down_write(&a->state_sem);
	if (!a->chunk_size)
		a->chunk_size = KVS_CHUNK_DEFAULT;
	err = on ? kvs_pcpu_start(a, a->chunk_size) : kvs_pcpu_stop(a);
	percpu_up_write(&a->state_sem);
	if (err == -EBUSY)
		return kvs_fail(e, err, "chunks still hold live areas; free them first");
	if (err && !on)
		return kvs_fail(e, err,
				"an empty chunk could not be given back (no memory); try again");
	if (err)
		return kvs_fail(e, err, "no memory for the overlay");
	return 0;
}

/**
 * kvs_reset() - free every area, purge, and zero the counters.
 * @a: the arena.
 */
void kvs_reset(struct kvs_arena *a)
{
	unsigned long live, bytes;
	struct kvs_stats *s;
	int cpu;

	/* A teardown: armed sites must not make it fail halfway. */
	atomic_inc(&a->nofault);
	kvs_free_all(a);
	kvs_purge(a);
	atomic_dec(&a->nofault);
	kvs_purge_zero(a);
	percpu_down_write(&a->state_sem);
	/* Areas allocated since the free all stay counted as live. */
	live = kvs_live(a);
	bytes = kvs_live_bytes(a);
	for_each_possible_cpu(cpu)
		memset(per_cpu_ptr(a->stats, cpu), 0, sizeof(struct kvs_stats));
	s = per_cpu_ptr(a->stats, raw_smp_processor_id());
	s->v[KVS_ST_ALLOCS] = live;
	s->v[KVS_ST_BYTES_ALLOC] = bytes;
	percpu_up_write(&a->state_sem);
}

void kvs_stats_show(struct kvs_arena *a, struct seq_file *m)
{
	struct kvs_usage u = {};
	unsigned long live, objs;
	int i;

	percpu_down_read(&a->state_sem);
	live = kvs_live(a);
	objs = live * kvs_area_bytes();
	a->be->usage(a, &u);
	seq_printf(m, "backend %s\n", a->be->name);

	seq_printf(m, "arena_size %lu\n", a->size);
	seq_printf(m, "guard_pages %d\n", a->guard);
	seq_printf(m, "live_areas %lu\n", live);
	seq_printf(m, "bytes_in_use %lu\n", kvs_live_bytes(a));
	for (i = 0; i < KVS_NR_STATS; i++)
		seq_printf(m, "%s %lu\n", kvs_stat_names[i],
			   kvs_stat_sum(a, i));
	seq_printf(m, "largest_free_hole %lu\n", u.largest_hole);
	seq_printf(m, "index_nodes %lu\n", u.nodes);
	seq_printf(m, "index_meta_bytes %lu\n", u.meta_bytes);
	seq_printf(m, "index_cached_holes %lu\n", u.cached);
	seq_printf(m, "area_object_bytes %lu\n", objs);
	seq_printf(m, "area_objects %ld\n", atomic_long_read(&kvs_area_objs));
	seq_printf(m, "meta_bytes_per_area %lu\n",
		   live ? (u.meta_bytes + objs) / live : 0);
	kvs_pcpu_show(a, m);
	percpu_up_read(&a->state_sem);
	kvs_purge_show(a, m);
}

/**
 * kvs_arena_create() - index a range with the given backend.
 * @a:     zeroed; @a->base and @a->size set by the caller (and @a->vm
 *         when the range is a real reservation, in which pages can be
 *         mapped; the self tests index ranges that are only numbers).
 * @be:    the backend to start with.
 * @guard: whether areas get a guard page.
 *
 * Return: 0 or a negative errno; nothing is left allocated on failure.
 */
int kvs_arena_create(struct kvs_arena *a, const struct kvs_backend *be,
		     bool guard)
{
	int err;

	a->stats = alloc_percpu(struct kvs_stats);
	if (!a->stats)
		return -ENOMEM;
	err = percpu_init_rwsem(&a->state_sem);
	if (err)
		goto free_stats;
	a->guard = guard;
	a->be_priv = be->init(a);
	if (IS_ERR(a->be_priv)) {
		err = PTR_ERR(a->be_priv);
		goto free_sem;
	}
	a->be = be;
	err = kvs_purge_init(a);
	if (err)
		goto fini;
	if (a->chunk_size) {
		err = kvs_pcpu_start(a, a->chunk_size);
		if (err)
			goto purge_exit;
	}
	return 0;

purge_exit:
	kvs_purge_exit(a);
fini:
	be->fini(a);
free_sem:
	percpu_free_rwsem(&a->state_sem);
free_stats:
	free_percpu(a->stats);
	return err;
}

/**
 * kvs_arena_destroy() - free every area and tear the index down.
 * @a: the arena; its range itself is released by the caller.
 *
 * Freed populated areas are purged, live ones freed and purged: no page
 * stays mapped in the range and none leaks.
 * Return: how many areas were still live.
 */
unsigned long kvs_arena_destroy(struct kvs_arena *a)
{
	unsigned long n = 0;
	int tries;

	/*
	 * A teardown cannot fail: no injected fault reaches it, and a real
	 * lack of memory (GFP_KERNEL index nodes) is waited out.
	 */
	atomic_inc(&a->nofault);
	for (tries = 0; tries < KVS_TEARDOWN_TRIES; tries++) {
		n += kvs_free_all(a);
		kvs_purge(a);
		percpu_down_write(&a->state_sem);
		if (!kvs_live(a) && !kvs_lazy_areas(a) && !kvs_pcpu_stop(a)) {
			percpu_up_write(&a->state_sem);
			break;
		}
		percpu_up_write(&a->state_sem);
		msleep(20);
	}
	kvs_purge_exit(a);
	if (tries == KVS_TEARDOWN_TRIES)
		/* Leak the index rather than free memory still in it. */
		pr_err("%s: %lu areas could not be freed for lack of memory; index leaked\n",
		       a->be->name, kvs_live(a));
	else
		a->be->fini(a);
	percpu_free_rwsem(&a->state_sem);
	free_percpu(a->stats);
	return n;
}

/**
 * kvs_areas_init() - create the slab of tracking objects, once per load.
 *
 * Return: 0 or -ENOMEM.
 */
int kvs_areas_init(void)
{
	kvs_area_cachep = KMEM_CACHE(kvs_area, 0);
	return kvs_area_cachep ? 0 : -ENOMEM;
}

/**
 * kvs_areas_exit() - destroy it, after every arena is gone.
 */
void kvs_areas_exit(void)
{
	/* Wait for the tracking objects still in their grace period. */
	rcu_barrier();
	kmem_cache_destroy(kvs_area_cachep);
}
