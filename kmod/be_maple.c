// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: the "maple" backend, one maple tree in which a freed range
 * stays behind as a tombstone until an allocation that fits reuses it.
 *
 * Why not the RFC's tree (maple-rfc, be_maple_rfc.c): that tree holds
 * only live areas, so an allocation that does not exactly fill a gap,
 * and a free beside a gap, change the number of slots in a leaf.  An
 * RCU-mode maple tree cannot do that in place: it copies the 256-byte
 * leaf and RCU-frees the old one, about twice per alloc+free.  It stores
 * in place when the new range has exactly the bounds of one slot.  Here a
 * free leaves its area's range behind as a tombstone, and an allocation
 * that begins where a tombstone does and fits in it takes that range
 * again; what it leaves of the range stays free as the range's tail.
 *
 * Neither stores into the tree.  What the tree holds for a range is a
 * slot (struct kvs_mslot), a small object that points to the area or, as
 * a tombstone, to nothing; the area points back to its slot.  Turning an
 * area into a tombstone and back is one pointer store in the slot, under
 * the lock, published to RCU readers by rcu_assign_pointer().  Even an
 * in-place maple store costs a walk from the root, the node's end and
 * gap bookkeeping; a workload that frees and reallocates the same sizes
 * now touches the tree only to read it.  A slot lives as long as its
 * range: it is made (or taken over from a tombstone the range covers) when
 * an allocation carves a new range, and freed when the range goes back
 * to NULL.
 *
 * Placement does not change (kvs_fit(), the differential self test's
 * oracle): a tombstone is free space, and the gaps of the placement rule
 * are the maximal runs of free space, NULL or tombstone.  The tree's gap
 * tracking sees only NULL ranges, so the runs that hold tombstones are
 * found from a small table of them instead, kept simple by one invariant:
 *
 *   a free run holds at most one chain of adjacent tombstones.
 *
 * A run that holds tombstones is then a NULL range or none, the chain, a
 * NULL range or none; the table keeps where it begins (its lead) with the
 * chain's first tombstone.  A free that would put a second chain into a
 * run stores NULL, as maple-rfc does, and the chain of the run just above
 * it, if any, goes to NULL with it.
 *
 * A range's slot may hold an area shorter than the range: the rest, the
 * tail, is free space, kept in the table like a tombstone (a lookup there
 * finds an area that does not hold the address, which reads as nothing).
 * When the area is freed, its range becomes one tombstone again.
 *
 * The table holds at most KVS_TOMBS tombstones and tails in address
 * order; a free that finds it full stores NULL.  Any other allocation
 * over tombstones is a single store (kvs_mtomb_place()): an entry it
 * covers in part below it stays behind, shortened, with its slot, and
 * one it ends inside becomes the new range's tail.
 * Top-down requests, which search the tree from its end, first turn
 * every tombstone back to NULL.
 *
 * Locking: one mutex, the tree's external lock (MT_FLAGS_LOCK_EXTERN),
 * guards every change of the tree, of the table and of a slot, and
 * walks.  Under a mutex a store may allocate nodes with GFP_KERNEL and
 * the tree never drops the lock to do it, so a gap cannot be lost
 * between the search and the store and no second insertion path is
 * needed (compare kvs_mt_alloc()).  Lookups by address hold only
 * rcu_read_lock(): they read the slot's area with rcu_dereference(),
 * take a tombstone for "nothing here" and an area that does not hold
 * the address for the same; areas are freed after a grace period
 * (kvs_area_free()), replaced nodes by the tree itself, and slots come
 * from a SLAB_TYPESAFE_BY_RCU cache (struct kvs_mslot).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/maple_tree.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "arena.h"
#include "be_maple.h"
#include "compat.h"
#include "inject.h"

/* The sentinel's entry (kvs_mtomb_sentinel()): a value, never a slot. */
#define KVS_SENTINEL		xa_mk_value(0)

/**
 * struct kvs_mslot - what the tree holds for one range [start, end).
 * @va:  the area whose reservation the range is, or NULL: a tombstone.
 *       Written under the backend's lock, read under RCU.
 *
 * Slots come from a SLAB_TYPESAFE_BY_RCU cache of the backend's own: a
 * slot freed while a reader still holds it stays a slot (NULL, or a new
 * range's area) until a grace period has passed, so a free needs no RCU
 * callback and a freed slot can be handed out again at once.  Readers
 * check the address against the area they find (kvs_mtomb_lookup()).
 */
struct kvs_mslot {
	struct kvs_area __rcu *va;
};

/*
 * Tombstones kept at once.  Enough for the reuse patterns of the
 * test_vmalloc workloads (two sizes in flight, a few chunks); a table
 * scan per allocation stays a few cache lines.
 */
#define KVS_TOMBS		16

/*
 * [start, end): a freed reservation, still in the tree as @slot, or a
 * tail: the free end of @slot's range, whose area ends at @start.  @lead:
 * where the free run that holds it begins, if it is the first of its
 * chain: the start of the NULL range just below, else @start; @start for
 * the others.
 */
struct kvs_tomb {
	unsigned long start;
	unsigned long end;
	unsigned long lead;
	struct kvs_mslot *slot;
};

/**
 * struct kvs_mtomb - the backend's state.
 * @lock: the tree's external lock: every change of @mt and the table.
 * @mt:   areas and tombstones, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU.
 * @slots: the cache of struct kvs_mslot, one per index (two can exist at
 *        once: the live arena's and a bench's).
 * @slots_name: its name.
 * @nr:   tombstones in @t.
 * @t:    the tombstones, in address order; guarded by @lock.
 * @hole_floor: what a failed gap search taught (0: nothing): every NULL
 *        range that starts below @hole_floor is shorter than @hole_max.
 * @hole_max: see @hole_floor; both guarded by @lock.
 */
struct kvs_mtomb {
	struct mutex lock;	/* see above: the tree's external lock */
	struct maple_tree mt;
	struct kmem_cache *slots;
	char slots_name[32];
	unsigned int nr;
	struct kvs_tomb t[KVS_TOMBS];
	unsigned long hole_floor;
	unsigned long hole_max;
};

static struct kvs_mtomb *kvs_mtomb(struct kvs_arena *a)
{
	return a->be_priv;
}

static struct maple_tree *kvs_mtree(struct kvs_arena *a)
{
	return &kvs_mtomb(a)->mt;
}

/* The area that the tree's @entry holds, or NULL.  Context: RCU or lock. */
static struct kvs_area *kvs_slot_va(struct kvs_mtomb *m, void *entry)
{
	struct kvs_mslot *s = entry;

	if (!s || xa_is_value(s))
		return NULL;
	return rcu_dereference_check(s->va, lockdep_is_held(&m->lock));
}

static atomic_t kvs_mslot_nr_caches = ATOMIC_INIT(0);

/*
 * A slot for a new range, still a tombstone: its area is set once the
 * store has linked it.  A reader may hold this object from its previous
 * life, hence rcu_assign_pointer() for every later change.
 */
static struct kvs_mslot *kvs_slot_new(struct kvs_arena *a,
				      struct kvs_mtomb *m)
{
	struct kvs_mslot *s;

	if (kvs_fault(a, KVS_INJ_MAPLE))
		return NULL;
	s = kmem_cache_alloc(m->slots, GFP_KERNEL);
	if (s)
		rcu_assign_pointer(s->va, NULL);
	return s;
}

/* @s's range is gone from the tree.  Readers may still hold it: see above. */
static void kvs_slot_free(struct kvs_mtomb *m, struct kvs_mslot *s)
{
	rcu_assign_pointer(s->va, NULL);
	kmem_cache_free(m->slots, s);
}

/* === The tombstone table (under m->lock) === */

/*
 * A tail: the free end of a range whose slot holds an area shorter than
 * the range (kvs_tomb_take()).  Its slot is the area's, never freed with
 * the entry.  Otherwise the entry's slot holds NULL.
 */
static bool kvs_tomb_is_tail(const struct kvs_tomb *t)
{
	return rcu_access_pointer(t->slot->va);
}

/* Index of the first tombstone ending above @addr, or m->nr. */
static unsigned int kvs_tomb_above(const struct kvs_mtomb *m,
				   unsigned long addr)
{
	unsigned int i;

	for (i = 0; i < m->nr && m->t[i].end <= addr; i++)
		;
	return i;
}

static bool kvs_tomb_ends_at(const struct kvs_mtomb *m, unsigned long addr)
{
	unsigned int i = kvs_tomb_above(m, addr - 1);

	return i < m->nr && m->t[i].end == addr;
}

/* One past the last tombstone of the chain that begins with the i-th. */
static unsigned int kvs_chain_end(const struct kvs_mtomb *m, unsigned int i)
{
	while (i + 1 < m->nr && m->t[i + 1].start == m->t[i].end)
		i++;
	return i + 1;
}

/* First tombstone of the chain holding the i-th. */
static unsigned int kvs_chain_start(const struct kvs_mtomb *m, unsigned int i)
{
	while (i && m->t[i - 1].end == m->t[i].start)
		i--;
	return i;
}

static void kvs_tomb_del(struct kvs_mtomb *m, unsigned int i, unsigned int n)
{
	memmove(&m->t[i], &m->t[i + n], (m->nr - i - n) * sizeof(m->t[0]));
	m->nr -= n;
}

/*
 * Insert [@start, @end), held in the tree by @slot, its run beginning at
 * @lead, in order; there is room.  A chain that began at @end now
 * continues this one.
 */
static void kvs_tomb_add(struct kvs_mtomb *m, unsigned long start,
			 unsigned long end, unsigned long lead,
			 struct kvs_mslot *slot)
{
	unsigned int i = kvs_tomb_above(m, start);

	memmove(&m->t[i + 1], &m->t[i], (m->nr - i) * sizeof(m->t[0]));
	m->t[i].start = start;
	m->t[i].end = end;
	m->t[i].lead = lead;
	m->t[i].slot = slot;
	m->nr++;
}

/*
 * An area now ends at @end: the chain above it, if its run began lower,
 * now begins its run at @end (the NULL range below it got shorter or
 * went away).
 */
static void kvs_tomb_area_below(struct kvs_mtomb *m, unsigned long end)
{
	unsigned int i = kvs_tomb_above(m, end);

	if (i < m->nr && m->t[i].lead < end)
		m->t[i].lead = end;
}

/* Index of the chain whose run begins at @addr, or -1. */
static int kvs_run_at(const struct kvs_mtomb *m, unsigned long addr)
{
	unsigned int i = kvs_tomb_above(m, addr);

	return i < m->nr && m->t[i].lead == addr ? i : -1;
}

/*
 * Entries i..j-1 no longer hold their ranges: forget them, and free their
 * slots but @keep (which a new range took over) and tails' (whose areas
 * still hold them).
 */
static void kvs_tomb_drop(struct kvs_mtomb *m, unsigned int i, unsigned int j,
			  struct kvs_mslot *keep)
{
	unsigned int k;

	for (k = i; k < j; k++)
		if (m->t[k].slot != keep && !kvs_tomb_is_tail(&m->t[k]))
			kvs_slot_free(m, m->t[k].slot);
	kvs_tomb_del(m, i, j - i);
}

/* === Stores === */

/*
 * Store @entry over [@start, @end).  Unless @walked (the state already
 * ends at the slot holding @start), walk there first: the store then
 * begins at that leaf instead of the root, and kvs_mt_store() can tell
 * whether the leaf was copied.  The library starts again from the root
 * by itself when the range may span nodes.
 */
static int kvs_mtomb_store(struct kvs_arena *a, struct ma_state *mas,
			   bool walked, unsigned long start,
			   unsigned long end, void *entry)
{
	struct maple_enode *leaf;

	if (!walked) {
		mas_set(mas, start);
		mas_walk(mas);
	}
	leaf = mas->node;
	/* A NULL store may make a hole larger than a search knew of. */
	if (!entry)
		kvs_mtomb(a)->hole_floor = 0;
	if (kvs_mas_active(mas)) {
		mas->index = start;
		mas->last = end - 1;
	} else {
		mas_set_range(mas, start, end - 1);
	}
	return kvs_mt_store(a, mas, leaf, entry, GFP_KERNEL);
}

/*
 * Turn the chain holding tombstone @i back to NULL, in one store over
 * the chain (it merges with the NULL range after it, if any).
 */
static int kvs_chain_flush(struct kvs_arena *a, struct kvs_mtomb *m,
			   unsigned int i)
{
	MA_STATE(mas, &m->mt, 0, 0);
	unsigned int first = kvs_chain_start(m, i), last = kvs_chain_end(m, i);
	int err;

	kvs_count(a, KVS_ST_MT_ERASES);
	err = kvs_mtomb_store(a, &mas, false, m->t[first].start,
			      m->t[last - 1].end, NULL);
	if (!err)
		kvs_tomb_drop(m, first, last, NULL);
	return err;
}

static int kvs_tomb_flush_all(struct kvs_arena *a, struct kvs_mtomb *m)
{
	int err = 0;

	while (m->nr && !err)
		err = kvs_chain_flush(a, m, 0);
	return err;
}

/* === Allocation === */

/* End of the free run that begins with the chain ending at @end. */
static unsigned long kvs_run_end(struct kvs_arena *a, struct kvs_mtomb *m,
				 unsigned long end)
{
	MA_STATE(mas, &m->mt, end, end);
	unsigned long arena_end = a->base + a->size;

	if (end >= arena_end)
		return end;
	kvs_count(a, KVS_ST_MT_WALKS);
	if (mas_walk(&mas))
		return end;
	return min(mas.last, arena_end - 1) + 1;
}

/*
 * The lowest run that holds tombstones and fits @r (kvs_fit()).  The
 * chain alone is tried first: only when it is too short is the NULL range
 * after it looked up.  Returns the run's start, clipped to the window, or
 * @r->vend when none fits.
 */
static unsigned long kvs_tomb_fit(struct kvs_arena *a, struct kvs_mtomb *m,
				  const struct kvs_req *r, unsigned long *addr)
{
	unsigned int i, j;
	unsigned long gs, ge;

	for (i = kvs_tomb_above(m, r->vstart); i < m->nr &&
	     m->t[i].start < r->vend; i = j) {
		j = kvs_chain_end(m, i);
		gs = m->t[i].lead;
		ge = m->t[j - 1].end;
		if (kvs_clip(r, &gs, &ge) && kvs_fit(r, gs, ge, addr))
			return gs;
		gs = m->t[i].lead;
		ge = kvs_run_end(a, m, m->t[j - 1].end);
		if (kvs_clip(r, &gs, &ge) && kvs_fit(r, gs, ge, addr))
			return gs;
	}
	return r->vend;
}

/*
 * A gap search over [@r->vstart, @end) found no NULL range of @r->need
 * bytes.  From the arena's start, and up to a chain's start or the
 * arena's end (no NULL range crosses either), that holds for every NULL
 * range starting below @end until a store of NULL (kvs_mtomb_store()):
 * the next searches for as much or more below @end can be skipped, as
 * vmalloc once did with its cached_hole_size.
 */
static void kvs_learn_holes(struct kvs_arena *a, struct kvs_mtomb *m,
			    const struct kvs_req *r, unsigned long end)
{
	if (r->vstart != a->base ||
	    (end == r->vend && end != a->base + a->size))
		return;
	m->hole_floor = end;
	m->hole_max = r->need;
}

/*
 * Where @r goes, bottom-up: the lowest of the runs with tombstones and
 * the NULL gaps.  A NULL gap can only win below the first fitting run
 * with tombstones (a NULL range never precedes a chain), so the tree's
 * gap search is bounded by that run, and skipped when the run begins at
 * the window's start.  *@at_gap: @mas ends in the NULL gap chosen.
 */
static int kvs_mtomb_find(struct kvs_arena *a, struct kvs_mtomb *m,
			  struct ma_state *mas, const struct kvs_req *r,
			  unsigned long *addr, bool *at_gap)
{
	unsigned long run = kvs_tomb_fit(a, m, r, addr), gap;

	*at_gap = false;
	if (run == r->vstart)
		return 0;
	if (run <= m->hole_floor && r->need >= m->hole_max)
		return run < r->vend ? 0 : -ENOMEM;
	kvs_count(a, KVS_ST_GAP_SEARCHES);
	mas_reset(mas);
	if (mas_empty_area(mas, r->vstart, run - 1, r->need)) {
		kvs_learn_holes(a, m, r, run);
		return run < r->vend ? 0 : -ENOMEM;
	}
	if (!kvs_fit(r, mas->index, mas->last + 1, &gap))
		return run < r->vend ? 0 : -ENOMEM;
	*addr = gap;
	*at_gap = true;
	return 0;
}

/*
 * A new range [@addr, top) covers entries @i..@j-1 of one chain (a run
 * holds one chain), at least in part, and its store is done.  The
 * entries it covers wholly leave the table; their slots are freed,
 * except @keep, which the new range now holds, and tails', whose areas
 * keep them.  The one below @addr, if covered in part, keeps the rest of
 * its range and its slot.  The range ends where the last entry it covers
 * did (kvs_mtomb_place()), so none is left above.
 */
static void kvs_tomb_cover(struct kvs_mtomb *m, unsigned int i,
			   unsigned int j, unsigned long addr,
			   struct kvs_mslot *keep)
{
	if (m->t[i].start < addr)
		m->t[i++].end = addr;
	kvs_tomb_drop(m, i, j, keep);
}

/* A slot that a range from @addr may take over: a tombstone's it covers wholly. */
static struct kvs_mslot *kvs_tomb_reusable(struct kvs_mtomb *m,
					   unsigned int i, unsigned int j,
					   unsigned long addr)
{
	for (; i < j; i++)
		if (m->t[i].start >= addr && !kvs_tomb_is_tail(&m->t[i]))
			return m->t[i].slot;
	return NULL;
}

/*
 * @va begins where tombstone @i does and fits in it: it takes the
 * tombstone's slot, and the tree is not written.  What it leaves of the
 * range stays in the table as the slot's tail.
 */
static void kvs_tomb_take(struct kvs_arena *a, struct kvs_mtomb *m,
			  unsigned int i, struct kvs_area *va)
{
	struct kvs_mslot *s = m->t[i].slot;

	if (m->t[i].end == va->end) {
		kvs_tomb_del(m, i, 1);
	} else {
		m->t[i].start = va->end;
		m->t[i].lead = va->end;
	}
	va->link.ms = s;
	rcu_assign_pointer(s->va, va);
	kvs_count(a, KVS_ST_MT_TOMB_REUSES);
}

/*
 * @va takes [@addr, @addr + span).  At the start of a tombstone that
 * holds it, it takes the tombstone's slot (kvs_tomb_take()): no store.
 * Anything else is a new range, stored into the tree in one store over
 * whatever entries it covers (kvs_tomb_cover()), with the slot of a
 * tombstone it covers wholly, else a new one.  A range that ends inside
 * an entry is stored to that entry's end, and the rest becomes its tail:
 * the store then leaves no piece above it.  The area is set in its slot
 * after the store: until then a reader finds a tombstone there.
 */
static int kvs_mtomb_place(struct kvs_arena *a, struct kvs_mtomb *m,
			   struct ma_state *mas, bool at_gap,
			   struct kvs_area *va, unsigned long addr,
			   unsigned long span)
{
	unsigned long end = addr + span, top = end;
	unsigned int i = kvs_tomb_above(m, addr), j = i;
	struct kvs_mslot *s = NULL;
	bool fresh = false;
	int err;

	va->start = addr;
	va->end = end;
	if (i < m->nr && m->t[i].start == addr && m->t[i].end >= end &&
	    !kvs_tomb_is_tail(&m->t[i])) {
		kvs_tomb_take(a, m, i, va);
		return 0;
	}
	while (j < m->nr && m->t[j].start < end)
		j++;
	if (j > i && m->t[j - 1].end > end)
		top = m->t[j - 1].end;
	/* Inside one entry, a piece below and a tail: no room for both. */
	if (j == i + 1 && m->t[i].start < addr && top > end &&
	    m->nr == KVS_TOMBS) {
		err = kvs_chain_flush(a, m, i);
		if (err)
			return err;
		at_gap = false;
		j = i;
		top = end;
	}
	if (j > i) {
		at_gap = false;
		s = kvs_tomb_reusable(m, i, j, addr);
	}
	if (!s) {
		s = kvs_slot_new(a, m);
		if (!s)
			return -ENOMEM;
		fresh = true;
	}
	kvs_count(a, KVS_ST_MT_STORES);
	err = kvs_mtomb_store(a, mas, at_gap, addr, top, s);
	if (err) {
		if (fresh)
			kvs_slot_free(m, s);	/* never published */
		return err;
	}
	if (j > i)
		kvs_tomb_cover(m, i, j, addr, s);
	if (top > end)
		kvs_tomb_add(m, end, top, end, s);
	kvs_tomb_area_below(m, top);
	va->link.ms = s;
	rcu_assign_pointer(s->va, va);
	return 0;
}

/* Top-down: the tree's reverse gap search, with no tombstone left. */
static int kvs_mtomb_find_top(struct kvs_arena *a, struct kvs_mtomb *m,
			      struct ma_state *mas, const struct kvs_req *r,
			      unsigned long *addr)
{
	int err = kvs_tomb_flush_all(a, m);

	if (err)
		return err;
	kvs_count(a, KVS_ST_GAP_SEARCHES);
	mas_reset(mas);
	if (mas_empty_area_rev(mas, r->vstart, r->vend - 1, r->need) ||
	    !kvs_fit(r, mas->index, mas->last + 1, addr))
		return -ENOMEM;
	return 0;
}

static int kvs_mtomb_alloc(struct kvs_arena *a, struct kvs_area *va,
			   const struct kvs_req *r)
{
	MA_STATE(mas, kvs_mtree(a), 0, 0);
	struct kvs_mtomb *m = kvs_mtomb(a);
	bool at_gap = false;
	unsigned long addr;
	int err;

	mutex_lock(&m->lock);
	if (r->top) {
		err = kvs_mtomb_find_top(a, m, &mas, r, &addr);
		at_gap = !err;
	} else {
		err = kvs_mtomb_find(a, m, &mas, r, &addr, &at_gap);
	}
	if (!err)
		err = kvs_mtomb_place(a, m, &mas, at_gap, va, addr, r->span);
	mutex_unlock(&m->lock);
	return err;
}

/* === Free === */

/*
 * May a tombstone start at @start, and where would its run begin?  Below
 * it lies the arena's start, a tombstone (found in the table), an area
 * (found in the tree): the run begins at @start, or continues the chain
 * below.  Or NULL: the run begins where that NULL range does, unless a
 * chain ends there, whose run the new one would then share.
 */
static bool kvs_tomb_lead(struct kvs_arena *a, struct kvs_mtomb *m,
			  unsigned long start, unsigned long *lead)
{
	MA_STATE(mas, &m->mt, start - 1, start - 1);

	*lead = start;
	if (start <= a->base || kvs_tomb_ends_at(m, start))
		return true;
	kvs_count(a, KVS_ST_MT_WALKS);
	if (mas_walk(&mas))
		return true;
	if (kvs_tomb_ends_at(m, mas.index))
		return false;
	*lead = mas.index;
	return true;
}

/* Index of @va's tail (kvs_tomb_take()), or -1. */
static int kvs_tomb_tail_of(const struct kvs_mtomb *m,
			    const struct kvs_area *va)
{
	unsigned int i = kvs_tomb_above(m, va->end);

	return i < m->nr && m->t[i].start == va->end &&
	       m->t[i].slot == va->link.ms ? i : -1;
}

/*
 * Take exactly @va out.  Its range (with its tail, if it has one) becomes
 * a tombstone, no store and no memory, when the table has room and the
 * free run it joins holds no other chain: not one below across a NULL
 * range (kvs_tomb_lead()), not one above across one (a run that begins
 * at the range's end above a NULL range).  Else the range goes to NULL in
 * one store together with the chain whose run begins at its end, which
 * would otherwise share a run with whatever lies below.
 */
static int kvs_mtomb_unlink(struct kvs_arena *a, struct kvs_area *va)
{
	MA_STATE(mas, kvs_mtree(a), va->start, va->start);
	struct kvs_mtomb *m = kvs_mtomb(a);
	unsigned long top = va->end, lead;
	struct kvs_mslot *s;
	unsigned int chain;
	int tail, above, err;

	might_sleep();
	mutex_lock(&m->lock);
	s = va->link.ms;
	if (!s || rcu_dereference_protected(s->va,
					    lockdep_is_held(&m->lock)) != va) {
		mutex_unlock(&m->lock);
		return -ENOENT;
	}
	tail = kvs_tomb_tail_of(m, va);
	if (tail >= 0)
		top = m->t[tail].end;
	above = kvs_run_at(m, top);
	if ((tail >= 0 || m->nr < KVS_TOMBS) &&
	    (above < 0 || m->t[above].start == top) &&
	    kvs_tomb_lead(a, m, va->start, &lead)) {
		rcu_assign_pointer(s->va, NULL);
		va->link.ms = NULL;
		if (tail >= 0) {
			m->t[tail].start = va->start;
			m->t[tail].lead = lead;
		} else {
			kvs_tomb_add(m, va->start, top, lead, s);
		}
		kvs_count(a, KVS_ST_MT_TOMBS);
		mutex_unlock(&m->lock);
		return 0;
	}

	chain = above >= 0 ? kvs_chain_end(m, above) : 0;
	if (above >= 0)
		top = m->t[chain - 1].end;
	kvs_count(a, KVS_ST_MT_ERASES);
	err = kvs_mtomb_store(a, &mas, false, va->start, top, NULL);
	if (!err) {
		if (above >= 0)
			kvs_tomb_drop(m, above, chain, NULL);
		if (tail >= 0)
			kvs_tomb_del(m, tail, 1);
		va->link.ms = NULL;
		kvs_slot_free(m, s);
	}
	mutex_unlock(&m->lock);
	return err;
}

/* === Lookups and walks === */

static struct kvs_area *kvs_mtomb_lookup(struct kvs_arena *a,
					 unsigned long addr)
{
	struct kvs_mtomb *m = kvs_mtomb(a);
	struct kvs_area *va;

	kvs_count(a, KVS_ST_MT_WALKS);
	va = kvs_slot_va(m, mtree_load(&m->mt, addr));
	/* The slot may have passed to a new area since the tree was read. */
	if (!va || addr < va->start || addr >= va->end)
		return NULL;
	return va;
}

/*
 * Under RCU alone (the caller's), never the mutex: kvs_next() holds
 * rcu_read_lock() around it.  The tree is never empty (the sentinel, see
 * kvs_mtomb_init()), which keeps such walks off the path that oopses from
 * v6.5 (see be_maple_rfc.c).
 */
static bool kvs_mtomb_next(struct kvs_arena *a, unsigned long addr,
			   struct kvs_area *out)
{
	MA_STATE(mas, kvs_mtree(a), addr, addr);
	struct kvs_mtomb *m = kvs_mtomb(a);
	struct kvs_area *va;
	void *entry;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "maple next outside RCU");
	mas_for_each(&mas, entry, ULONG_MAX) {
		va = kvs_slot_va(m, entry);
		if (!va || va->start < addr || va->start != mas.index)
			continue;
		*out = *va;
		return true;
	}
	return false;
}

/* Entries a usage walk visits per hold of the lock. */
#define KVS_MTOMB_WALK_BATCH	1024

/*
 * Holes are NULL ranges, tombstones and tails alike.  Lets go of the lock every
 * KVS_MTOMB_WALK_BATCH entries: the counts are then a snapshot of a
 * moving tree.  Context: may sleep.
 */
static void kvs_mtomb_usage(struct kvs_arena *a, struct kvs_usage *u)
{
	MA_STATE(mas, kvs_mtree(a), a->base, a->base);
	struct kvs_mtomb *m = kvs_mtomb(a);
	unsigned long prev = a->base, end = a->base + a->size, seen = 0;
	struct kvs_mt_nodes n = {};
	unsigned long slots = 0;
	struct kvs_area *va;
	void *entry;

	mutex_lock(&m->lock);
	mas_for_each(&mas, entry, end - 1) {
		kvs_mt_count_leaf(&n, mas.node);
		slots++;
		va = kvs_slot_va(m, entry);
		if (!va)
			continue;
		if (mas.index > prev)
			u->largest_hole = max(u->largest_hole, mas.index - prev);
		prev = max(prev, va->end);	/* a tail is a hole */
		if (++seen % KVS_MTOMB_WALK_BATCH)
			continue;
		mas_pause(&mas);
		mutex_unlock(&m->lock);
		cond_resched();
		mutex_lock(&m->lock);
	}
	mutex_unlock(&m->lock);
	if (end > prev)
		u->largest_hole = max(u->largest_hole, end - prev);
	u->nodes += n.nodes;
	u->meta_bytes += n.nodes * sizeof(struct maple_node) +
			 slots * sizeof(struct kvs_mslot);
	u->cached += READ_ONCE(m->nr);
}

/*
 * The "purge" command: every tombstone back to NULL.  Best effort: a
 * chain the tree cannot merge now stays a tombstone, free space still.
 */
static void kvs_mtomb_trim(struct kvs_arena *a)
{
	struct kvs_mtomb *m = kvs_mtomb(a);

	mutex_lock(&m->lock);
	kvs_tomb_flush_all(a, m);
	mutex_unlock(&m->lock);
}

/*
 * A tombstone in the tree: the table must hold it, in order, with its
 * slot and where its run begins (@prev_end, the end of the entry before
 * it), and that run must hold no other chain (@after_tomb: the entry
 * before it is a tombstone).
 */
static int kvs_mtomb_check_tomb(struct kvs_mtomb *m, struct ma_state *mas,
				void *entry, unsigned int k,
				unsigned long prev_end, bool after_tomb,
				struct kvs_check *c)
{
	if (xa_is_value(entry) || k >= m->nr ||
	    m->t[k].start != mas->index || m->t[k].end != mas->last + 1 ||
	    m->t[k].slot != entry) {
		snprintf(c->reason, sizeof(c->reason),
			 "tombstone %#lx-%#lx is not in the table",
			 mas->index, mas->last + 1);
		return -EUCLEAN;
	}
	if (m->t[k].lead != prev_end) {
		snprintf(c->reason, sizeof(c->reason),
			 "tombstone %#lx: its run begins at %#lx, not %#lx",
			 mas->index, prev_end, m->t[k].lead);
		return -EUCLEAN;
	}
	if (after_tomb && mas->index != prev_end) {
		snprintf(c->reason, sizeof(c->reason),
			 "tombstone %#lx shares a free run with another chain",
			 mas->index);
		return -EUCLEAN;
	}
	return 0;
}

/*
 * An area in the tree: its reservation from the range's start, its slot
 * its own; what it leaves of the range must be the table's @k-th entry,
 * its tail, whose run begins at the area's end.
 */
static int kvs_mtomb_check_va(struct kvs_arena *a, struct kvs_mtomb *m,
			      struct ma_state *mas, struct kvs_area *va,
			      void *entry, unsigned int *k,
			      struct kvs_check *c)
{
	const struct kvs_tomb *t = &m->t[*k];

	if (mas->index != va->start || mas->last < va->end - 1) {
		snprintf(c->reason, sizeof(c->reason),
			 "tree range %#lx-%#lx holds area %#lx-%#lx",
			 mas->index, mas->last, va->start, va->end);
		return -EUCLEAN;
	}
	if (va->link.ms != entry) {
		snprintf(c->reason, sizeof(c->reason),
			 "area %#lx-%#lx does not point to its slot",
			 va->start, va->end);
		return -EUCLEAN;
	}
	if (va->end != mas->last + 1) {
		if (*k >= m->nr || t->start != va->end ||
		    t->end != mas->last + 1 || t->slot != entry ||
		    t->lead != va->end) {
			snprintf(c->reason, sizeof(c->reason),
				 "area %#lx-%#lx: its tail to %#lx is not in the table",
				 va->start, va->end, mas->last + 1);
			return -EUCLEAN;
		}
		++*k;
	}
	return kvs_check_area(a, c, va);
}

/*
 * Areas: each its reservation and its tail, through kvs_check_area().
 * Tombstones and tails: exactly the table, one chain per free run.  Gap tracking: the
 * largest NULL range is found by mas_empty_area(), one page more is not.
 */
static int kvs_mtomb_check(struct kvs_arena *a, struct kvs_check *c)
{
	MA_STATE(mas, kvs_mtree(a), a->base, a->base);
	struct kvs_mtomb *m = kvs_mtomb(a);
	unsigned long prev = a->base, end = a->base + a->size, hole = 0;
	bool after_tomb = false;
	unsigned int k = 0;
	struct kvs_area *va;
	void *entry;
	int err = 0;

	mutex_lock(&m->lock);
	mas_for_each(&mas, entry, ULONG_MAX) {
		hole = max(hole, mas.index - prev);
		va = kvs_slot_va(m, entry);
		if (va)
			err = kvs_mtomb_check_va(a, m, &mas, va, entry, &k, c);
		else
			err = kvs_mtomb_check_tomb(m, &mas, entry, k++, prev,
						   after_tomb, c);
		if (err)
			break;
		after_tomb = !va || va->end != mas.last + 1;
		prev = mas.last + 1;
	}
	if (!err && k != m->nr) {
		snprintf(c->reason, sizeof(c->reason),
			 "table holds %u tombstones, tree %u", m->nr, k);
		err = -EUCLEAN;
	}
	hole = max(hole, end - prev);
	if (!err)
		err = kvs_mt_check_gaps(a, &mas, hole, c);
	mutex_unlock(&m->lock);
	return err;
}

/* === Setup === */

/*
 * The sentinel: a value entry on the byte below the arena, outside every
 * window, so that the tree is never empty (walks under RCU, see
 * kvs_mtomb_next()) and a chain at the arena's start follows an entry.
 */
static int kvs_mtomb_sentinel(struct kvs_arena *a, struct kvs_mtomb *m)
{
	MA_STATE(mas, &m->mt, a->base - 1, a->base - 1);
	int err;

	mutex_lock(&m->lock);
	err = mas_store_gfp(&mas, KVS_SENTINEL, GFP_KERNEL);
	mutex_unlock(&m->lock);
	return err;
}

static void *kvs_mtomb_init(struct kvs_arena *a)
{
	struct kvs_mtomb *m = kzalloc(sizeof(*m), GFP_KERNEL);

	if (!m)
		return ERR_PTR(-ENOMEM);
	snprintf(m->slots_name, sizeof(m->slots_name), "kvs_mslot_%u",
		 (unsigned int)atomic_inc_return(&kvs_mslot_nr_caches));
	m->slots = kmem_cache_create(m->slots_name, sizeof(struct kvs_mslot),
				     0, SLAB_TYPESAFE_BY_RCU, NULL);
	if (!m->slots)
		goto free_m;
	mutex_init(&m->lock);
	mt_init_flags(&m->mt, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU |
			      MT_FLAGS_LOCK_EXTERN);
	mt_set_external_lock(&m->mt, &m->lock);
	if (kvs_mtomb_sentinel(a, m))
		goto destroy;
	return m;

destroy:
	mutex_destroy(&m->lock);
	kmem_cache_destroy(m->slots);
free_m:
	kfree(m);
	return ERR_PTR(-ENOMEM);
}

/* The arena is empty: only tombstones are left, which own nothing. */
static void kvs_mtomb_fini(struct kvs_arena *a)
{
	struct kvs_mtomb *m = kvs_mtomb(a);

	mutex_lock(&m->lock);
	__mt_destroy(&m->mt);
	kvs_tomb_drop(m, 0, m->nr, NULL);
	mutex_unlock(&m->lock);
	mutex_destroy(&m->lock);
	/* Its slabs go back after a grace period: readers may hold slots. */
	kmem_cache_destroy(m->slots);
	kfree(m);
}

const struct kvs_backend kvs_be_maple = {
	.name	= "maple",
	.init	= kvs_mtomb_init,
	.fini	= kvs_mtomb_fini,
	.alloc	= kvs_mtomb_alloc,
	.unlink	= kvs_mtomb_unlink,
	.lookup	= kvs_mtomb_lookup,
	.next	= kvs_mtomb_next,
	.check	= kvs_mtomb_check,
	.usage	= kvs_mtomb_usage,
	.trim	= kvs_mtomb_trim,
};
