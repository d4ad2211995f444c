// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: the "maple-rfc" backend, the occupied-only maple tree as RFC
 * 07/12 posted it, kept so that one run compares it with "maple".
 *
 * The tree holds one entry per live area, over the area's reservation
 * (guard page included).  Free space is simply what the tree does not
 * hold: allocation is a gap search with mas_empty_area() (padded by
 * align - 1, see kvs_pad()) followed by a store of the range; free is an
 * erase; the same tree answers lookups by address, under RCU.  Nearly
 * every such store changes the number of slots in a leaf, which an
 * RCU-mode tree does by copying the leaf (see be_maple.c for why that
 * costs, and what the default backend does instead).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/maple_tree.h>
#include <linux/slab.h>

#include "arena.h"
#include "inject.h"
#include "be_maple.h"

/*
 * The occupied tree: MT_FLAGS_ALLOC_RANGE for gap tracking and
 * MT_FLAGS_USE_RCU so that lookups need no lock.
 *
 * Locking: the tree's own internal spinlock (mas_lock()) guards every
 * change, as the maple tree intends.  The tree may drop that lock to
 * allocate nodes when it is given a gfp that can sleep, so:
 *  - a gap search and the store that takes the gap are made under one
 *    hold of the lock with GFP_NOWAIT | __GFP_NOWARN: the tree cannot
 *    drop the lock, so the gap cannot be lost, and no atomic reserves
 *    are touched;
 *  - if that store lacks memory, the lock is released and the same range
 *    is inserted with mtree_insert_range(GFP_KERNEL), which sleeps to
 *    allocate with the lock dropped and inserts only if the range is
 *    still empty; -EEXIST means another CPU took the gap meanwhile, and
 *    the search starts again;
 *  - erasing may also drop the lock; the caller owns the area (enum
 *    kvs_own), so no other caller can unlink it meanwhile, and its range
 *    stays occupied (nobody can allocate there) until the erase completes.
 * Point lookups (mtree_load()) hold only rcu_read_lock(); areas are
 * freed after a grace period (kvs_area_free()) and replaced tree nodes
 * are RCU-freed by the tree itself.  Walks (next, usage) take the lock
 * as well: from v6.5, mas_next_slot() re-walks from the root when it
 * meets a node a writer replaced, and if that writer has just erased
 * the last entry the re-walk leaves no node, which the retry then
 * dereferences (a NULL oops seen on 7.3 when a usage walk raced a purge
 * that emptied the tree).  Lookups by address never step to a sibling
 * and are not affected.
 *
 * The kvs_mt_*() helpers work on any such tree; maple-dual reuses them
 * for its occupied tree.
 */
void kvs_mt_init(struct maple_tree *mt)
{
	mt_init_flags(mt, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU);
}

/**
 * kvs_mt_store() - store @entry over the range @mas is set to.
 * @a:     the arena, for its counters and fault sites.
 * @mas:   the state, its range set.
 * @leaf:  the node @mas was at before its range was set (a search or
 *         walk ended there), or anything else when unknown.
 * @entry: what to store.
 * @gfp:   for nodes the store needs.
 *
 * Counts a store that did not end in @leaf as a leaf copy: in RCU mode
 * the tree then allocated a node and RCU-frees @leaf.  Only pointers are
 * compared; the old leaf is never read.
 * Return: 0 or -ENOMEM; the tree is unchanged on failure.
 */
int kvs_mt_store(struct kvs_arena *a, struct ma_state *mas,
		 struct maple_enode *leaf, void *entry, gfp_t gfp)
{
	int err;

	err = kvs_fault(a, KVS_INJ_MAPLE) ? -ENOMEM :
	      mas_store_gfp(mas, entry, gfp);
	if (!err && mas->node != leaf)
		kvs_count(a, KVS_ST_MT_LEAF_COPIES);
	return err;
}

/*
 * Find where @r goes: one gap search, lowest or highest first.  On
 * success the gap found is [mas->index, mas->last] clipped to the need;
 * the area's place in it follows the shared kvs_fit() rule.
 */
static int kvs_maple_find(struct kvs_arena *a, struct ma_state *mas,
			  const struct kvs_req *r, unsigned long *addr)
{
	int err;

	kvs_count(a, KVS_ST_GAP_SEARCHES);
	mas_reset(mas);
	if (r->top)
		err = mas_empty_area_rev(mas, r->vstart, r->vend - 1, r->need);
	else
		err = mas_empty_area(mas, r->vstart, r->vend - 1, r->need);
	if (err)
		return -ENOMEM;
	if (!kvs_fit(r, mas->index, mas->last + 1, addr))
		return -ENOMEM;
	return 0;
}

int kvs_mt_alloc(struct kvs_arena *a, struct maple_tree *mt,
		 struct kvs_area *va, const struct kvs_req *r)
{
	MA_STATE(mas, mt, 0, 0);
	struct maple_enode *leaf;
	unsigned long addr;
	int err;

	mas_lock(&mas);
	for (;;) {
		err = kvs_maple_find(a, &mas, r, &addr);
		if (err)
			break;
		va->start = addr;
		va->end = addr + r->span;
		leaf = mas.node;
		mas_set_range(&mas, va->start, va->end - 1);
		kvs_count(a, KVS_ST_MT_STORES);
		err = kvs_mt_store(a, &mas, leaf, va,
				   GFP_NOWAIT | __GFP_NOWARN);
		if (err != -ENOMEM)
			break;

		mas_unlock(&mas);
		kvs_count(a, KVS_ST_MT_SLOW_INSERTS);
		err = kvs_fault(a, KVS_INJ_MAPLE) ? -ENOMEM :
		      mtree_insert_range(mt, va->start, va->end - 1, va,
					 GFP_KERNEL);
		if (err != -EEXIST)
			return err;
		kvs_count(a, KVS_ST_MT_INSERT_RACES);
		mas_lock(&mas);
	}
	mas_unlock(&mas);
	return err;
}

/*
 * Erase exactly @va: the tree must hold it over its reservation.  On
 * failure the tree is unchanged.
 */
int kvs_mt_unlink(struct kvs_arena *a, struct maple_tree *mt,
		  struct kvs_area *va)
{
	MA_STATE(mas, mt, va->start, va->start);
	struct maple_enode *leaf;
	int err;

	might_sleep();
	mas_lock(&mas);
	kvs_count(a, KVS_ST_MT_WALKS);
	if (mas_walk(&mas) != va || mas.index != va->start ||
	    mas.last != va->end - 1) {
		mas_unlock(&mas);
		return -ENOENT;
	}
	kvs_count(a, KVS_ST_MT_ERASES);
	leaf = mas.node;
	mas_set_range(&mas, va->start, va->end - 1);
	err = kvs_mt_store(a, &mas, leaf, NULL, GFP_KERNEL);
	mas_unlock(&mas);
	return err;
}

/* Accept what an RCU walk found only if it covers @addr. */
static bool kvs_maple_valid(const struct kvs_area *va, unsigned long addr)
{
	return va && addr >= va->start && addr < va->end;
}

struct kvs_area *kvs_mt_lookup(struct kvs_arena *a, struct maple_tree *mt,
			       unsigned long addr)
{
	struct kvs_area *va;

	kvs_count(a, KVS_ST_MT_WALKS);
	va = mtree_load(mt, addr);
	return kvs_maple_valid(va, addr) ? va : NULL;
}

bool kvs_mt_next(struct maple_tree *mt, unsigned long addr,
		 struct kvs_area *out)
{
	MA_STATE(mas, mt, addr, addr);
	struct kvs_area *va;
	bool found = false;

	/* Locked, not RCU alone: see the comment at the top of this file. */
	mas_lock(&mas);
	mas_for_each(&mas, va, ULONG_MAX) {
		if (va->start < addr || !kvs_maple_valid(va, va->start))
			continue;
		*out = *va;
		found = true;
		break;
	}
	mas_unlock(&mas);
	return found;
}

/*
 * Count the tree's nodes by walking its leaves in order: a node at any
 * level is entered exactly once, when the walk first reaches a leaf
 * below it, so comparing each leaf's ancestors with the previous leaf's
 * counts every node once.  Reads the node layout from <linux/maple_tree.h>.
 */
static struct maple_node *kvs_mt_parent(struct maple_node *node)
{
	unsigned long p = (unsigned long)node->parent;

	if (p & 1)	/* the root's parent is the tree itself */
		return NULL;
	return (struct maple_node *)(p & ~MAPLE_NODE_MASK);
}

void kvs_mt_count_leaf(struct kvs_mt_nodes *n, struct maple_enode *en)
{
	struct maple_node *node;
	int level = 0;

	if ((unsigned long)en < PAGE_SIZE)	/* one entry lives in the root */
		return;
	node = (struct maple_node *)((unsigned long)en & ~MAPLE_NODE_MASK);
	while (node && level < MAPLE_HEIGHT_MAX && n->last[level] != node) {
		n->last[level++] = node;
		n->nodes++;
		node = kvs_mt_parent(node);
	}
}

/* Entries a usage walk visits per hold of the tree lock. */
#define KVS_MT_WALK_BATCH	1024

/*
 * Under the tree lock (see the comment at the top of this file), let go
 * every KVS_MT_WALK_BATCH entries so that a walk of 10^6 areas does not
 * hold off allocations; the counts are then a snapshot of a moving tree.
 * Context: may sleep.
 */
void kvs_mt_usage(struct kvs_arena *a, struct maple_tree *mt,
		  struct kvs_usage *u)
{
	MA_STATE(mas, mt, a->base, a->base);
	unsigned long prev = a->base, end = a->base + a->size, seen = 0;
	struct kvs_mt_nodes n = {};
	struct kvs_area *va;

	mas_lock(&mas);
	mas_for_each(&mas, va, end - 1) {
		if (mas.index > prev)
			u->largest_hole = max(u->largest_hole, mas.index - prev);
		prev = max(prev, mas.last + 1);
		kvs_mt_count_leaf(&n, mas.node);
		if (++seen % KVS_MT_WALK_BATCH)
			continue;
		mas_pause(&mas);
		mas_unlock(&mas);
		cond_resched();
		mas_lock(&mas);
	}
	mas_unlock(&mas);
	if (end > prev)
		u->largest_hole = max(u->largest_hole, end - prev);
	u->nodes += n.nodes;
	u->meta_bytes += n.nodes * sizeof(struct maple_node);
}

/* Nodes of any tree, counted the same way (maple-dual's free tree). */
unsigned long kvs_mt_count_nodes(struct maple_tree *mt)
{
	MA_STATE(mas, mt, 0, 0);
	struct kvs_mt_nodes n = {};
	void *entry;

	rcu_read_lock();
	mas_for_each(&mas, entry, ULONG_MAX)
		kvs_mt_count_leaf(&n, mas.node);
	rcu_read_unlock();
	return n.nodes;
}

/**
 * kvs_mt_check_gaps() - the tree's gap tracking against a walk.
 * @a:    the arena.
 * @mas:  a state of the tree, its lock held.
 * @hole: the largest NULL range inside the arena, as the walk saw it.
 * @c:    the reason, on failure.
 *
 * mas_empty_area() must find @hole, and must not find one page more.
 * Return: 0 or -EUCLEAN.
 */
int kvs_mt_check_gaps(struct kvs_arena *a, struct ma_state *mas,
		      unsigned long hole, struct kvs_check *c)
{
	unsigned long end = a->base + a->size;

	if (!hole)
		return 0;
	mas_reset(mas);
	if (mas_empty_area(mas, a->base, end - 1, hole)) {
		snprintf(c->reason, sizeof(c->reason),
			 "gap search misses the %lu-byte hole", hole);
		return -EUCLEAN;
	}
	mas_reset(mas);
	if (hole < a->size &&
	    !mas_empty_area(mas, a->base, end - 1, hole + PAGE_SIZE)) {
		snprintf(c->reason, sizeof(c->reason),
			 "gap search finds %lu bytes, largest hole is %lu",
			 hole + PAGE_SIZE, hole);
		return -EUCLEAN;
	}
	return 0;
}

/*
 * Every entry must be an area whose range in the tree is exactly its
 * reservation; and the tree's gap tracking must agree with the walk: the
 * largest gap seen is found by mas_empty_area(), one page more is not.
 */
int kvs_mt_check(struct kvs_arena *a, struct maple_tree *mt,
		 struct kvs_check *c)
{
	MA_STATE(mas, mt, 0, 0);
	unsigned long prev = a->base, end = a->base + a->size, hole = 0;
	struct kvs_area *va;
	int err = 0;

	mas_lock(&mas);
	mas_for_each(&mas, va, ULONG_MAX) {
		if (mas.index != va->start || mas.last != va->end - 1) {
			snprintf(c->reason, sizeof(c->reason),
				 "tree range %#lx-%#lx holds area %#lx-%#lx",
				 mas.index, mas.last, va->start, va->end);
			err = -EUCLEAN;
			break;
		}
		err = kvs_check_area(a, c, va);
		if (err)
			break;
		hole = max(hole, va->start - prev);
		prev = va->end;
	}
	hole = max(hole, end - prev);
	if (!err)
		err = kvs_mt_check_gaps(a, &mas, hole, c);
	mas_unlock(&mas);
	return err;
}

/* === The backend: the occupied tree and nothing else === */

static struct maple_tree *kvs_maple(struct kvs_arena *a)
{
	return a->be_priv;
}

static void *kvs_maple_init(struct kvs_arena *a)
{
	struct maple_tree *mt = kzalloc(sizeof(*mt), GFP_KERNEL);

	if (!mt)
		return ERR_PTR(-ENOMEM);
	kvs_mt_init(mt);
	return mt;
}

static void kvs_maple_fini(struct kvs_arena *a)
{
	mtree_destroy(kvs_maple(a));
	kfree(kvs_maple(a));
}

static int kvs_maple_alloc(struct kvs_arena *a, struct kvs_area *va,
			   const struct kvs_req *r)
{
	return kvs_mt_alloc(a, kvs_maple(a), va, r);
}

static int kvs_maple_unlink(struct kvs_arena *a, struct kvs_area *va)
{
	return kvs_mt_unlink(a, kvs_maple(a), va);
}

static struct kvs_area *kvs_maple_lookup(struct kvs_arena *a,
					 unsigned long addr)
{
	return kvs_mt_lookup(a, kvs_maple(a), addr);
}

static bool kvs_maple_next(struct kvs_arena *a, unsigned long addr,
			   struct kvs_area *out)
{
	return kvs_mt_next(kvs_maple(a), addr, out);
}

static int kvs_maple_check(struct kvs_arena *a, struct kvs_check *c)
{
	return kvs_mt_check(a, kvs_maple(a), c);
}

static void kvs_maple_usage(struct kvs_arena *a, struct kvs_usage *u)
{
	kvs_mt_usage(a, kvs_maple(a), u);
}

const struct kvs_backend kvs_be_maple_rfc = {
	.name	= "maple-rfc",
	.init	= kvs_maple_init,
	.fini	= kvs_maple_fini,
	.alloc	= kvs_maple_alloc,
	.unlink	= kvs_maple_unlink,
	.lookup	= kvs_maple_lookup,
	.next	= kvs_maple_next,
	.check	= kvs_maple_check,
	.usage	= kvs_maple_usage,
};
