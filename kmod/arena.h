/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: the arena, its live areas and the backend contract.
 *
 * The arena is one private range of kernel virtual addresses reserved
 * with get_vm_area() at load time.  Every backend indexes the same range
 * and obeys the same placement rule (kvs_fit() below), so that the same
 * sequence of requests yields the same addresses on every backend: that
 * is the oracle of the differential self test.
 */
#ifndef KVASHIM_ARENA_H
#define KVASHIM_ARENA_H

#include <linux/bitops.h>
#include <linux/list.h>
#include <linux/percpu.h>
#include <linux/percpu-rwsem.h>
#include <linux/rbtree.h>
#include <linux/rcupdate.h>
#include <linux/sched/clock.h>
#include <linux/types.h>

#include "inject.h"

struct kvs_arena;
struct seq_file;

/* === Areas === */

/* What an area is; set before it is published and never changed after. */
#define KVS_AF_GUARD	BIT(0)	/* a guard page follows the area */
#define KVS_AF_TOP	BIT(1)	/* placed top-down */
#define KVS_AF_CHUNK	BIT(3)	/* a per-CPU chunk's reservation (pcpu.c) */
#define KVS_AF_PCPU	BIT(5)	/* served from a chunk, not the backend */
/* In copies only (kvs_next(), kvs_find()), which carry no pointers: */
#define KVS_AF_BACKED	BIT(6)	/* populated with pages */
#define KVS_AF_LAZY	BIT(7)	/* freed; pages and range await the purge */

/**
 * enum kvs_own - who owns an area now.  Exactly one owner at a time.
 *
 * @KVS_OWN_NEW:   the allocating task: placed, not yet handed out (its
 *                 pages are being mapped).
 * @KVS_OWN_LIVE:  the user.  Only from here can a free or a touch take it.
 * @KVS_OWN_TOUCH: a touch, writing its pages; back to LIVE after.
 * @KVS_OWN_FREE:  the free that claimed it, taking it out of its index.
 * @KVS_OWN_LAZY:  the lazy list (purge.c): unmapped, pages and range held.
 * @KVS_OWN_PURGE: the purge giving it back; to LAZY again if it cannot.
 * @KVS_OWN_CHUNK: a per-CPU chunk's reservation; pcpu.c alone frees it.
 *
 * Every change is kvs_own_move(), a compare-and-exchange from the state
 * the mover expects, so two tasks can never both win the same area: the
 * loser learns who holds it and says so (EBUSY, ENOENT).  Whoever holds
 * the area may use it outside rcu_read_lock(): nobody else frees it.
 * Lookups may return an area in any state; callers decide by the state.
 */
enum kvs_own {
	KVS_OWN_NEW,
	KVS_OWN_LIVE,
	KVS_OWN_TOUCH,
	KVS_OWN_FREE,
	KVS_OWN_LAZY,
	KVS_OWN_PURGE,
	KVS_OWN_CHUNK,
};

struct kvs_area;
struct kvs_chunk;
struct kvs_mslot;
struct page;

/**
 * struct kvs_backing - the pages behind one populated area.
 * @va:       the area they back.
 * @lazy:     link on the arena's lazy list, while the area is LAZY or
 *            PURGE; guarded by kvs_purge::lock.
 * @nr_pages: pages still held; 0 once the purge has freed them.
 * @pages:    the order-0 pages, in address order.
 *
 * Allocated with the pages, before the area's range is reserved, and
 * freed with the tracking object after an RCU grace period.
 */
struct kvs_backing {
	struct kvs_area *va;
	struct list_head lazy;
	unsigned long nr_pages;
	struct page *pages[];
};

/**
 * struct kvs_area - one live allocation (the tracking object).
 * @start: first byte of the area.
 * @end:   first byte after the reservation (area plus guard page).
 * @size:  usable bytes, a multiple of PAGE_SIZE.
 * @flags: KVS_AF_*; fixed once the area is published.
 * @own:   enum kvs_own; changed only by kvs_own_move().
 * @link:  the backend's index linkage: a node of rbtree's tree, list's
 *         list entry, or maple's slot (be_maple.c; maple-rfc needs none).
 * @chunk: for KVS_AF_PCPU areas the chunk serving them; for KVS_AF_CHUNK
 *         reservations the chunk itself.
 * @bk:    the pages of a populated area, or NULL; set before the area is
 *         published and freed with it.
 * @rcu:   lookups run under RCU, so the object is freed after a grace
 *         period (kvs_area_free()).
 */
struct kvs_area {
	unsigned long start;
	unsigned long end;
	unsigned long size;
	unsigned int flags;
	atomic_t own;
	union {
		struct rb_node rb;
		struct list_head node;
		struct kvs_mslot *ms;
	} link;
	struct kvs_chunk *chunk;
	struct kvs_backing *bk;
	struct rcu_head rcu;
};

static inline enum kvs_own kvs_own(const struct kvs_area *va)
{
	return atomic_read(&va->own);
}

/**
 * kvs_own_move() - hand @va from owner @from to owner @to.
 * @va:   the area.
 * @from: the owner the caller expects (itself, or LIVE to claim it).
 * @to:   the new owner.
 *
 * Full barrier on success: what the old owner wrote is seen by the new.
 * Return: true if @va was @from and is now @to.
 */
static inline bool kvs_own_move(struct kvs_area *va, enum kvs_own from,
				enum kvs_own to)
{
	return atomic_cmpxchg(&va->own, from, to) == from;
}

/* Freed by its user: awaiting the purge, or being given back by it. */
static inline bool kvs_own_freed(enum kvs_own own)
{
	return own == KVS_OWN_FREE || own == KVS_OWN_LAZY ||
	       own == KVS_OWN_PURGE;
}

/**
 * struct kvs_req - one allocation request, validated by the front end.
 * @span:   bytes to reserve (size plus the guard page).
 * @need:   the gap length to search for: @span, padded by @align - 1 when
 *          @align > PAGE_SIZE, so that the first gap found can always be
 *          aligned (the RFC 07/12 rule, and vmalloc's adjust_search_size).
 * @align:  power of two, at least PAGE_SIZE.
 * @vstart: the window: the reservation must lie in [@vstart, @vend).
 * @vend:   end of the window (exclusive).
 * @top:    take the highest fitting gap instead of the lowest.
 */
struct kvs_req {
	unsigned long span;
	unsigned long need;
	unsigned long align;
	unsigned long vstart;
	unsigned long vend;
	bool top;
};

/**
 * kvs_fit() - the placement rule every backend applies.
 * @r:  the request.
 * @gs: start of a free gap, already clipped to the window.
 * @ge: end of that gap (exclusive), already clipped to the window.
 * @addr: where the area starts, on success.
 *
 * A backend finds the lowest (or, for @r->top, the highest) gap whose
 * clipped length is at least @r->need and places the area at its lowest
 * aligned address (highest, top-down).
 *
 * Return: true if the area fits in the gap.
 */
static inline bool kvs_fit(const struct kvs_req *r, unsigned long gs,
			   unsigned long ge, unsigned long *addr)
{
	unsigned long a;

	if (ge <= gs || ge - gs < r->need)
		return false;
	if (r->top)
		a = ALIGN_DOWN(ge - r->span, r->align);
	else
		a = ALIGN(gs, r->align);
	if (a < gs || a > ge - r->span)
		return false;
	*addr = a;
	return true;
}

/**
 * kvs_clip() - clip a gap [*gs, *ge) to the request's window.
 * Return: false when nothing of the gap is left inside the window.
 */
static inline bool kvs_clip(const struct kvs_req *r, unsigned long *gs,
			    unsigned long *ge)
{
	if (*gs < r->vstart)
		*gs = r->vstart;
	if (*ge > r->vend)
		*ge = r->vend;
	return *gs < *ge;
}

/* === Statistics === */

enum kvs_stat {
	KVS_ST_ALLOCS,		/* successful allocations */
	KVS_ST_FREES,		/* successful frees */
	KVS_ST_BYTES_ALLOC,	/* usable bytes handed out, cumulative */
	KVS_ST_BYTES_FREED,	/* usable bytes returned, cumulative */
	KVS_ST_FAIL_EINVAL,	/* failures by errno */
	KVS_ST_FAIL_ENOMEM,
	KVS_ST_FAIL_ENOENT,
	KVS_ST_FAIL_EBUSY,
	KVS_ST_FAIL_ERANGE,
	KVS_ST_FAIL_OTHER,
	/* index operations, counted by the backends */
	KVS_ST_GAP_SEARCHES,	/* maple: mas_empty_area*(); rb/list: searches */
	KVS_ST_MT_STORES,	/* maple: stores of an entry */
	KVS_ST_MT_ERASES,	/* maple: erases (stores of NULL) */
	KVS_ST_MT_WALKS,	/* maple: walks to find an area */
	KVS_ST_MT_SLOW_INSERTS,	/* maple: insert after a sleeping allocation */
	KVS_ST_MT_INSERT_RACES,	/* maple: gap taken while the lock was dropped */
	KVS_ST_MT_LEAF_COPIES,	/* maple: stores that replaced their leaf */
	KVS_ST_MT_TOMBS,	/* maple: frees that left a tombstone */
	KVS_ST_MT_TOMB_REUSES,	/* maple: allocations stored over a tombstone */
	KVS_ST_RB_INSERTS,	/* rbtree: node insertions (free + busy) */
	KVS_ST_RB_ERASES,	/* rbtree: node erasures (free + busy) */
	KVS_ST_RB_AUGMENT,	/* rbtree: subtree_max_size propagation steps */
	KVS_ST_RB_MERGES,	/* rbtree: free-block merges on free */
	KVS_ST_LIST_WALKED,	/* list: nodes visited */
	KVS_ST_PCPU_HITS,	/* served by a chunk's bump pointer */
	KVS_ST_PCPU_MISSES,	/* eligible, but no chunk could serve it */
	KVS_ST_PCPU_REFILLS,	/* chunks taken from the backend */
	KVS_ST_PCPU_RELEASES,	/* chunks given back */
	KVS_NR_STATS
};

struct kvs_stats {
	unsigned long v[KVS_NR_STATS];
};

extern const char *const kvs_stat_names[KVS_NR_STATS];

/* === Backends === */

/**
 * struct kvs_check - state of one consistency walk (see kvs_check_area()).
 * @nr:       areas seen.
 * @bytes:    usable bytes seen.
 * @span:     reserved bytes seen (areas plus guards).
 * @prev_end: end of the previous area's reservation.
 * @lazy:     areas seen that were freed and await the purge (not in @nr).
 * @reason:   set on the first violation.
 */
struct kvs_check {
	unsigned long nr;
	unsigned long bytes;
	unsigned long span;
	unsigned long prev_end;
	unsigned long lazy;
	char reason[128];
};

/**
 * struct kvs_backend - the contract every index implements.
 *
 * Each backend keeps its own lock, documented in its file.  The front
 * end (arena.c) calls every operation with a->state_sem held for read,
 * so the backend cannot be switched or torn down underneath it; only
 * kvs_backend::init and ::fini run with it held for write.
 *
 * @name:   the name users select it by.
 * @init:   build an empty index over the whole arena and return its
 *          private state (stored in a->be_priv by the caller) or an
 *          ERR_PTR().  Must not touch a->be_priv: the previous backend
 *          still owns it.  May sleep.
 * @fini:   tear down the index in a->be_priv; the arena is empty.
 * @alloc:  place @va by the kvs_fit() rule and publish it.  Sets
 *          @va->start and @va->end.  Returns 0, or -ENOMEM when no gap
 *          fits or index metadata could not be allocated; the index is
 *          unchanged on failure.  May sleep.
 * @unlink: remove exactly @va, which the caller owns (enum kvs_own), from
 *          the index.  Checked under the backend's lock: the index must
 *          hold @va itself at @va->start, else -ENOENT and nothing
 *          changes (a kvashim bug, reported by the caller).  -ENOMEM if
 *          the index could not shrink: @va stays indexed and the caller
 *          still owns it.  The backend knows nothing of owners or flags.
 *          May sleep.
 * @lookup: the indexed area whose reservation contains @addr (guard
 *          page included), or NULL, whatever its owner.  Called under
 *          rcu_read_lock(); the result stays valid until
 *          rcu_read_unlock().
 * @next:   copy the first indexed area starting at or above @addr into
 *          @out.  Returns false when there is none.  Called under
 *          rcu_read_lock(): must not sleep.
 * @check:  walk every area in address order through kvs_check_area(),
 *          then verify the backend's own invariants.  0 or -EUCLEAN with
 *          @c->reason set.  Called with a->state_sem held for write.
 * @usage:  fill @u: index nodes, their bytes, the largest free gap.
 *          May be approximate while operations are in flight.
 * @trim:   optional: give back the index space a backend keeps for reuse
 *          (maple's tombstones), as the "purge" command asks; best
 *          effort, the index consistent whatever is left.  May sleep.
 */
struct kvs_usage {
	unsigned long nodes;
	unsigned long meta_bytes;
	unsigned long largest_hole;
	unsigned long cached;
};

struct kvs_backend {
	const char *name;
	void *(*init)(struct kvs_arena *a);
	void (*fini)(struct kvs_arena *a);
	int (*alloc)(struct kvs_arena *a, struct kvs_area *va,
		     const struct kvs_req *req);
	int (*unlink)(struct kvs_arena *a, struct kvs_area *va);
	struct kvs_area *(*lookup)(struct kvs_arena *a, unsigned long addr);
	bool (*next)(struct kvs_arena *a, unsigned long addr,
		     struct kvs_area *out);
	int (*check)(struct kvs_arena *a, struct kvs_check *c);
	void (*usage)(struct kvs_arena *a, struct kvs_usage *u);
	void (*trim)(struct kvs_arena *a);
};

/*
 * RFC 10/12's chunk: the smallest power of two that keeps ~32 MiB module
 * loads on the fast path and amortises one refill over ~16,000 4 KiB
 * requests.
 */
#define KVS_CHUNK_DEFAULT	(64UL << 20)

#define KVS_NR_BACKENDS	5
extern const struct kvs_backend *const kvs_backends[KVS_NR_BACKENDS];
extern const struct kvs_backend kvs_be_maple;
extern const struct kvs_backend kvs_be_maple_rfc;
extern const struct kvs_backend kvs_be_maple_dual;
extern const struct kvs_backend kvs_be_rbtree;
extern const struct kvs_backend kvs_be_list;

const struct kvs_backend *kvs_backend_by_name(const char *name);

/* === The arena === */

/**
 * struct kvs_arena - the private range and what indexes it.
 * @base:       first address of the range (page aligned).
 * @size:       bytes in the range.
 * @vm:         the get_vm_area() reservation that owns the range.
 * @state_sem:  readers: every alloc, free, lookup and walk; writer:
 *              backend switch, reset, check, teardown.  Per-CPU so the
 *              read side costs no shared cache line on the hot path.
 * @be:         active backend; changed only under @state_sem for write.
 * @be_priv:    the backend's private state.
 * @stats:      per-CPU counters (enum kvs_stat), summed on read so that
 *              the hot paths share no cache line.
 * @guard:      put a guard page after each new area.
 * @chunk_size: per-CPU chunk size asked for at creation; 0: no overlay.
 * @pcpu:       the per-CPU bump overlay, or NULL when it is off;
 *              changed only under @state_sem for write.
 * @purge:      the lazy list of freed populated areas; NULL when the
 *              arena owns no real reservation (@vm) and so cannot map
 *              pages (the self tests' arenas).
 * @faults:     armed fault-injection sites apply to this arena (the live
 *              one); the self tests' and the bench's arenas never see
 *              faults meant for it.
 * @nofault:    teardowns in progress (reset, destroy): while non-zero no
 *              site fails here, so that a teardown cannot fail.
 */
struct kvs_arena {
	unsigned long base;
	unsigned long size;
	struct vm_struct *vm;
	struct percpu_rw_semaphore state_sem;
	const struct kvs_backend *be;
	void *be_priv;
	struct kvs_stats __percpu *stats;
	bool guard;
	unsigned long chunk_size;
	struct kvs_pcpu *pcpu;
	struct kvs_purge *purge;
	bool faults;
	atomic_t nofault;
};

/**
 * kvs_fault() - should this evaluation of @site fail, in arena @a?
 * @a:    the arena the allocation is for.
 * @site: the allocation site.
 *
 * Return: true if the caller must behave as if the allocation failed.
 */
static inline bool kvs_fault(struct kvs_arena *a, enum kvs_inj_site site)
{
	return kvs_inject_any() && a->faults && !atomic_read(&a->nofault) &&
	       kvs_inject(site);
}

/*
 * Locking rules as code: each is checked by lockdep on a debug kernel.
 * a->state_sem for read or write; percpu_rwsem_assert_held() does not
 * tell the two apart, and some paths run under either.
 */
static inline void kvs_assert_state(struct kvs_arena *a)
{
	percpu_rwsem_assert_held(&a->state_sem);
}

/* The clock, read only while @on (an event is enabled): 0 otherwise. */
static inline u64 kvs_trace_clock(bool on)
{
	return on ? local_clock() : 0;
}

static inline u64 kvs_trace_lat(u64 t0)
{
	return t0 ? local_clock() - t0 : 0;
}

static inline void kvs_count(struct kvs_arena *a, enum kvs_stat id)
{
	this_cpu_inc(a->stats->v[id]);
}

static inline void kvs_count_n(struct kvs_arena *a, enum kvs_stat id,
			       unsigned long n)
{
	this_cpu_add(a->stats->v[id], n);
}

/**
 * struct kvs_err - the one-line reason behind a failed operation.
 * @msg: text for the user, no trailing newline.
 */
struct kvs_err {
	char msg[160];
};

__printf(3, 4) int kvs_fail(struct kvs_err *e, int err, const char *fmt, ...);

/**
 * struct kvs_spec - what a caller asks for.
 * @size:   bytes; rounded up to whole pages.
 * @align:  power of two; 0 means PAGE_SIZE.
 * @vstart: window start; 0 with @vend 0 means the whole arena.
 * @vend:   window end (exclusive).
 * @top:    place top-down.
 * @populate: back the area with pages, mapped as vmalloc maps them.
 */
struct kvs_spec {
	unsigned long size;
	unsigned long align;
	unsigned long vstart;
	unsigned long vend;
	bool top;
	bool populate;
};

int kvs_areas_init(void);
void kvs_areas_exit(void);
int kvs_arena_create(struct kvs_arena *a, const struct kvs_backend *be,
		     bool guard);
unsigned long kvs_arena_destroy(struct kvs_arena *a);

int kvs_alloc(struct kvs_arena *a, const struct kvs_spec *s,
	      unsigned long *addr, struct kvs_err *e);
int kvs_free(struct kvs_arena *a, unsigned long addr, struct kvs_err *e);
unsigned long kvs_free_all(struct kvs_arena *a);
int kvs_check(struct kvs_arena *a, struct kvs_err *e);
int kvs_switch_backend(struct kvs_arena *a, const char *name,
		       struct kvs_err *e);
void kvs_reset(struct kvs_arena *a);
bool kvs_find(struct kvs_arena *a, unsigned long addr, struct kvs_area *out);
int kvs_set_pcpu(struct kvs_arena *a, bool on, struct kvs_err *e);
bool kvs_next(struct kvs_arena *a, unsigned long addr, struct kvs_area *out);
bool kvs_next_reserved(struct kvs_arena *a, unsigned long addr,
		       struct kvs_area *out);

struct kvs_area *kvs_lookup(struct kvs_arena *a, unsigned long addr);
int kvs_check_area(struct kvs_arena *a, struct kvs_check *c,
		   const struct kvs_area *va);
void kvs_area_free(struct kvs_arena *a, struct kvs_area *va);

unsigned long kvs_stat_sum(struct kvs_arena *a, enum kvs_stat id);
void kvs_usage(struct kvs_arena *a, struct kvs_usage *u);
void kvs_trim(struct kvs_arena *a);
unsigned long kvs_live(struct kvs_arena *a);
unsigned long kvs_area_bytes(void);
void kvs_stats_show(struct kvs_arena *a, struct seq_file *m);

#endif /* KVASHIM_ARENA_H */
