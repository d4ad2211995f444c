// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: the "list" backend, vmalloc's KVA allocator before v5.2.
 *
 * Live areas sit on one list sorted by address (kvs_area::link.node), and
 * free space is only what lies between them.  An allocation walks the
 * list from the lowest area (top-down: from the highest) and takes the
 * first gap - below the first area, between two neighbours, or above the
 * last - whose part inside the window holds the request: first fit over
 * the busy list, O(n) in the live areas.  That walk is what the 2018 RFC
 * "improve vmalloc allocation" measured at milliseconds on long lists and
 * replaced with free-block tracking (be_rbtree.c).  Mainline also kept
 * the busy areas in an rb-tree, to start the walk near vstart, and cached
 * the last hole found (free_vmap_cache); neither is kept here, so that
 * the backend shows the cost of the walk itself.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/list.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "arena.h"

/**
 * struct kvs_list - the backend's state.
 * @lock:  guards @areas, @nr and the list linkage of every area on it.
 *         Lookups take it too, under the caller's RCU read lock.  Nothing
 *         allocates or sleeps under it: an area's list node is part of its
 *         kvs_area, so the index needs no memory of its own.
 * @areas: the live areas, sorted by address.
 * @nr:    how many there are.
 */
struct kvs_list {
	spinlock_t lock;	/* guards all below; see above */
	struct list_head areas;
	unsigned long nr;
};

static struct kvs_list *kvs_list(struct kvs_arena *a)
{
	return a->be_priv;
}

static struct kvs_area *kvs_list_area(struct list_head *pos)
{
	return list_entry(pos, struct kvs_area, link.node);
}

/* === Gap search === */

/* Whether the gap [gs, ge) holds the request inside the window. */
static bool kvs_list_gap_fits(const struct kvs_req *r, unsigned long gs,
			      unsigned long ge)
{
	return kvs_clip(r, &gs, &ge) && ge - gs >= r->need;
}

/*
 * Bottom-up first fit: the gap below each area in address order, then the
 * one above the last area, until one holds the request or the gaps pass
 * vend.  Returns the list position the new area goes after and sets its
 * gap [*gs, *ge), or returns NULL.
 */
static struct list_head *kvs_list_find_low(struct kvs_arena *a,
					   struct kvs_list *l,
					   const struct kvs_req *r,
					   unsigned long *gs, unsigned long *ge)
{
	struct list_head *pos = l->areas.next, *after = NULL;
	unsigned long lo = a->base, hi, walked = 0;

	for (;;) {
		if (pos == &l->areas) {
			hi = a->base + a->size;
		} else {
			hi = kvs_list_area(pos)->start;
			walked++;
		}
		if (kvs_list_gap_fits(r, lo, hi)) {
			after = pos->prev;
			break;
		}
		/* Every later gap starts above hi, beyond the window. */
		if (pos == &l->areas || hi >= r->vend)
			break;
		lo = kvs_list_area(pos)->end;
		pos = pos->next;
	}
	kvs_count_n(a, KVS_ST_LIST_WALKED, walked);
	*gs = lo;
	*ge = hi;
	return after;
}

/*
 * Top-down first fit, the mirror: the gap above each area from the
 * highest down, then the one below the first area, until one holds the
 * request or the gaps pass vstart.
 */
static struct list_head *kvs_list_find_high(struct kvs_arena *a,
					    struct kvs_list *l,
					    const struct kvs_req *r,
					    unsigned long *gs, unsigned long *ge)
{
	struct list_head *pos = l->areas.prev, *after = NULL;
	unsigned long lo, hi = a->base + a->size, walked = 0;

	for (;;) {
		if (pos == &l->areas) {
			lo = a->base;
		} else {
			lo = kvs_list_area(pos)->end;
			walked++;
		}
		if (kvs_list_gap_fits(r, lo, hi)) {
			after = pos;
			break;
		}
		/* Every earlier gap ends below lo, beyond the window. */
		if (pos == &l->areas || lo <= r->vstart)
			break;
		hi = kvs_list_area(pos)->start;
		pos = pos->prev;
	}
	kvs_count_n(a, KVS_ST_LIST_WALKED, walked);
	*gs = lo;
	*ge = hi;
	return after;
}

/* === Walks by address === */

/* The first area starting at or above @addr, or NULL. */
static struct kvs_area *kvs_list_ceil(struct kvs_arena *a, struct kvs_list *l,
				      unsigned long addr)
{
	struct kvs_area *va, *ceil = NULL;
	unsigned long walked = 0;

	list_for_each_entry(va, &l->areas, link.node) {
		walked++;
		if (va->start >= addr) {
			ceil = va;
			break;
		}
	}
	kvs_count_n(a, KVS_ST_LIST_WALKED, walked);
	return ceil;
}

/* The area whose reservation holds @addr, or NULL. */
static struct kvs_area *kvs_list_find(struct kvs_arena *a, struct kvs_list *l,
				      unsigned long addr)
{
	struct kvs_area *va, *found = NULL;
	unsigned long walked = 0;

	list_for_each_entry(va, &l->areas, link.node) {
		walked++;
		if (va->start > addr)
			break;
		if (addr < va->end) {
			found = va;
			break;
		}
	}
	kvs_count_n(a, KVS_ST_LIST_WALKED, walked);
	return found;
}

/* === The backend === */

static void *kvs_list_init(struct kvs_arena *a)
{
	struct kvs_list *l = kzalloc(sizeof(*l), GFP_KERNEL);

	if (!l)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&l->lock);
	INIT_LIST_HEAD(&l->areas);
	return l;
}

static void kvs_list_fini(struct kvs_arena *a)
{
	struct kvs_list *l = kvs_list(a);

	/* The areas belong to the front end, which has freed them all. */
	WARN_ON_ONCE(!list_empty(&l->areas));
	kfree(l);
}

static int kvs_list_alloc(struct kvs_arena *a, struct kvs_area *va,
			  const struct kvs_req *r)
{
	struct kvs_list *l = kvs_list(a);
	unsigned long gs, ge, addr;
	struct list_head *after;
	int err = -ENOMEM;

	spin_lock(&l->lock);
	kvs_count(a, KVS_ST_GAP_SEARCHES);
	if (r->top)
		after = kvs_list_find_high(a, l, r, &gs, &ge);
	else
		after = kvs_list_find_low(a, l, r, &gs, &ge);
	if (after && kvs_clip(r, &gs, &ge) && kvs_fit(r, gs, ge, &addr)) {
		va->start = addr;
		va->end = addr + r->span;
		list_add(&va->link.node, after);
		l->nr++;
		err = 0;
	}
	spin_unlock(&l->lock);
	return err;
}

static int kvs_list_unlink(struct kvs_arena *a, struct kvs_area *va)
{
	struct kvs_list *l = kvs_list(a);
	int err = -ENOENT;

	spin_lock(&l->lock);
	if (kvs_list_ceil(a, l, va->start) == va) {
		list_del(&va->link.node);
		l->nr--;
		err = 0;
	}
	spin_unlock(&l->lock);
	return err;
}

/*
 * The lock, not RCU, keeps the list still while it is walked; the caller's
 * RCU read lock keeps the area found valid after it is dropped, since an
 * area is freed only after a grace period once unlinked.
 */
static struct kvs_area *kvs_list_lookup(struct kvs_arena *a,
					unsigned long addr)
{
	struct kvs_list *l = kvs_list(a);
	struct kvs_area *va;

	spin_lock(&l->lock);
	va = kvs_list_find(a, l, addr);
	spin_unlock(&l->lock);
	return va;
}

static bool kvs_list_next(struct kvs_arena *a, unsigned long addr,
			  struct kvs_area *out)
{
	struct kvs_list *l = kvs_list(a);
	struct kvs_area *va;
	bool found = false;

	spin_lock(&l->lock);
	va = kvs_list_ceil(a, l, addr);
	if (va) {
		*out = *va;
		found = true;
	}
	spin_unlock(&l->lock);
	return found;
}

static int kvs_list_check(struct kvs_arena *a, struct kvs_check *c)
{
	struct kvs_list *l = kvs_list(a);
	unsigned long nr = 0;
	struct kvs_area *va;
	int err = 0;

	spin_lock(&l->lock);
	list_for_each_entry(va, &l->areas, link.node) {
		if (va->link.node.next->prev != &va->link.node) {
			snprintf(c->reason, sizeof(c->reason),
				 "list linkage broken after area %#lx",
				 va->start);
			err = -EUCLEAN;
			break;
		}
		err = kvs_check_area(a, c, va);
		if (err)
			break;
		nr++;
	}
	if (!err && nr != l->nr) {
		snprintf(c->reason, sizeof(c->reason),
			 "list holds %lu areas, count says %lu", nr, l->nr);
		err = -EUCLEAN;
	}
	spin_unlock(&l->lock);
	return err;
}

static void kvs_list_usage(struct kvs_arena *a, struct kvs_usage *u)
{
	struct kvs_list *l = kvs_list(a);
	unsigned long lo = a->base, hole = 0;
	struct kvs_area *va;

	spin_lock(&l->lock);
	list_for_each_entry(va, &l->areas, link.node) {
		hole = max(hole, va->start - lo);
		lo = va->end;
	}
	hole = max(hole, a->base + a->size - lo);
	u->nodes = l->nr;
	spin_unlock(&l->lock);
	/* The list node lives in each kvs_area, counted by the front end. */
	u->meta_bytes = 0;
	u->largest_hole = hole;
}

const struct kvs_backend kvs_be_list = {
	.name	= "list",
	.init	= kvs_list_init,
	.fini	= kvs_list_fini,
	.alloc	= kvs_list_alloc,
	.unlink	= kvs_list_unlink,
	.lookup	= kvs_list_lookup,
	.next	= kvs_list_next,
	.check	= kvs_list_check,
	.usage	= kvs_list_usage,
};
