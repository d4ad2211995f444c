// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: the "maple-dual" backend, a free tree and an occupied tree kept
 * in lock-step: the maple-tree vmalloc RFC before its patch 07/12.
 *
 * The occupied tree is the one "maple" uses (be_maple.c): it answers the
 * gap search and the lookups, so both backends place areas identically.
 * Beside it a free tree holds one entry per free block.  Every allocation
 * finds its enclosing free block and clips it; every free merges the
 * range with its free neighbours.  That is the lock-step maintenance the
 * RFC dropped in 07/12 as "roughly twice the maple operations per
 * allocation lifecycle"; the counters in stats measure the claim.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/maple_tree.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "arena.h"
#include "inject.h"
#include "be_maple.h"

/* What the free tree stores over a free block. */
#define KVS_FREE	xa_mk_value(1)

/**
 * struct kvs_dual - the backend's state.
 * @occ:   the occupied tree, exactly as in "maple" (RCU readers).
 * @free:  the free tree: KVS_FREE over each maximal free block, NULL
 *         over areas.  Read and written only under @lock.
 * @lock:  serialises every change to both trees, so that they change
 *         together; each tree's internal lock is still taken inside, and
 *         a tree may drop it to allocate nodes, which is harmless because
 *         no other writer can run.  A mutex: allocation under it may sleep.
 * @stale: the free tree missed an update (no memory); it is rebuilt from
 *         the occupied tree before the next change.  Placement never
 *         depends on it, so a stale mirror costs nothing but the rebuild.
 */
struct kvs_dual {
	struct maple_tree occ;
	struct maple_tree free;
	struct mutex lock;	/* see @lock above */
	bool stale;
};

static struct kvs_dual *kvs_dual(struct kvs_arena *a)
{
	return a->be_priv;
}

/* Free-tree store of @entry over [start, end); false if out of memory. */
static bool kvs_dual_store(struct kvs_arena *a, struct kvs_dual *d,
			   unsigned long start, unsigned long end, void *entry)
{
	MA_STATE(mas, &d->free, start, end - 1);
	int err;

	kvs_count(a, entry ? KVS_ST_MT_STORES : KVS_ST_MT_ERASES);
	mas_lock(&mas);
	err = kvs_fault(a, KVS_INJ_MAPLE) ? -ENOMEM :
	      mas_store_gfp(&mas, entry, GFP_KERNEL);
	mas_unlock(&mas);
	return !err;
}

/*
 * Rebuild the free tree as the complement of the occupied tree.  The walk
 * leaves RCU to store (which may sleep); @lock keeps every writer out, so
 * the occupied tree cannot change under the paused walk.
 */
static void kvs_dual_resync(struct kvs_arena *a, struct kvs_dual *d)
{
	MA_STATE(mas, &d->occ, a->base, a->base);
	unsigned long prev = a->base, end = a->base + a->size;
	struct kvs_area *va;
	bool ok = true;

	mtree_destroy(&d->free);
	mt_init(&d->free);
	rcu_read_lock();
	mas_for_each(&mas, va, end - 1) {
		if (va->start > prev) {
			rcu_read_unlock();
			ok = kvs_dual_store(a, d, prev, va->start, KVS_FREE);
			rcu_read_lock();
			if (!ok)
				break;
		}
		prev = va->end;
	}
	rcu_read_unlock();
	if (ok && end > prev)
		ok = kvs_dual_store(a, d, prev, end, KVS_FREE);
	d->stale = !ok;
}

/* Clip [start, end) out of the free block that must enclose it. */
static void kvs_dual_take(struct kvs_arena *a, struct kvs_dual *d,
			  unsigned long start, unsigned long end)
{
	MA_STATE(mas, &d->free, start, start);
	void *entry;

	kvs_count(a, KVS_ST_MT_WALKS);
	mas_lock(&mas);
	entry = mas_walk(&mas);
	mas_unlock(&mas);
	if (entry != KVS_FREE || mas.index > start || mas.last < end - 1) {
		/* Cannot happen unless the trees diverged: rebuild. */
		d->stale = true;
		return;
	}
	if (!kvs_dual_store(a, d, start, end, NULL))
		d->stale = true;
}

/* Return [start, end) to the free tree, merged with free neighbours. */
static void kvs_dual_give(struct kvs_arena *a, struct kvs_dual *d,
			  unsigned long start, unsigned long end)
{
	MA_STATE(mas, &d->free, 0, 0);
	unsigned long lo = start, hi = end;

	mas_lock(&mas);
	if (start > a->base) {
		kvs_count(a, KVS_ST_MT_WALKS);
		mas_set(&mas, start - 1);
		if (mas_walk(&mas) == KVS_FREE)
			lo = mas.index;
	}
	if (end < a->base + a->size) {
		kvs_count(a, KVS_ST_MT_WALKS);
		mas_set(&mas, end);
		if (mas_walk(&mas) == KVS_FREE)
			hi = mas.last + 1;
	}
	mas_unlock(&mas);
	if (!kvs_dual_store(a, d, lo, hi, KVS_FREE))
		d->stale = true;
}

static void *kvs_dual_init(struct kvs_arena *a)
{
	struct kvs_dual *d = kzalloc(sizeof(*d), GFP_KERNEL);

	if (!d)
		return ERR_PTR(-ENOMEM);
	kvs_mt_init(&d->occ);
	mt_init(&d->free);
	mutex_init(&d->lock);
	if (mtree_store_range(&d->free, a->base, a->base + a->size - 1,
			      KVS_FREE, GFP_KERNEL)) {
		kfree(d);
		return ERR_PTR(-ENOMEM);
	}
	return d;
}

static void kvs_dual_fini(struct kvs_arena *a)
{
	struct kvs_dual *d = kvs_dual(a);

	mtree_destroy(&d->occ);
	mtree_destroy(&d->free);
	mutex_destroy(&d->lock);
	kfree(d);
}

static int kvs_dual_alloc(struct kvs_arena *a, struct kvs_area *va,
			  const struct kvs_req *r)
{
	struct kvs_dual *d = kvs_dual(a);
	int err;

	mutex_lock(&d->lock);
	if (d->stale)
		kvs_dual_resync(a, d);
	err = kvs_mt_alloc(a, &d->occ, va, r);
	if (!err)
		kvs_dual_take(a, d, va->start, va->end);
	mutex_unlock(&d->lock);
	return err;
}

static int kvs_dual_unlink(struct kvs_arena *a, struct kvs_area *va)
{
	struct kvs_dual *d = kvs_dual(a);
	int err;

	mutex_lock(&d->lock);
	if (d->stale)
		kvs_dual_resync(a, d);
	err = kvs_mt_unlink(a, &d->occ, va);
	if (!err)
		kvs_dual_give(a, d, va->start, va->end);
	mutex_unlock(&d->lock);
	return err;
}

static struct kvs_area *kvs_dual_lookup(struct kvs_arena *a,
					unsigned long addr)
{
	return kvs_mt_lookup(a, &kvs_dual(a)->occ, addr);
}

static bool kvs_dual_next(struct kvs_arena *a, unsigned long addr,
			  struct kvs_area *out)
{
	return kvs_mt_next(&kvs_dual(a)->occ, addr, out);
}

/* The next free-tree entry must be exactly the gap [gs, ge). */
static bool kvs_dual_expect(struct ma_state *fm, unsigned long gs,
			    unsigned long ge, struct kvs_check *c)
{
	void *entry = mas_find(fm, ULONG_MAX);

	if (entry == KVS_FREE && fm->index == gs && fm->last == ge - 1)
		return true;
	snprintf(c->reason, sizeof(c->reason),
		 "free tree holds %#lx-%#lx where the gap is %#lx-%#lx",
		 entry ? fm->index : 0, entry ? fm->last + 1 : 0, gs, ge);
	return false;
}

/*
 * The occupied tree passes the maple checks; the free tree holds exactly
 * its gaps, each as one merged entry, and nothing else.
 */
static int kvs_dual_check(struct kvs_arena *a, struct kvs_check *c)
{
	MA_STATE(om, &kvs_dual(a)->occ, a->base, a->base);
	MA_STATE(fm, &kvs_dual(a)->free, 0, 0);
	struct kvs_dual *d = kvs_dual(a);
	unsigned long prev = a->base, end = a->base + a->size;
	struct kvs_area *va;
	int err;

	err = kvs_mt_check(a, &d->occ, c);
	if (err)
		return err;

	mutex_lock(&d->lock);
	if (d->stale)
		kvs_dual_resync(a, d);
	if (d->stale) {
		/* Not corruption: a stale mirror is a legal state (@stale). */
		snprintf(c->reason, sizeof(c->reason),
			 "occupied tree clean; the stale free tree cannot be rebuilt now (no memory)");
		err = -ENOMEM;
		goto out;
	}
	rcu_read_lock();
	mas_for_each(&om, va, end - 1) {
		if (va->start > prev && !kvs_dual_expect(&fm, prev, va->start, c)) {
			err = -EUCLEAN;
			break;
		}
		prev = va->end;
	}
	if (!err && end > prev && !kvs_dual_expect(&fm, prev, end, c))
		err = -EUCLEAN;
	if (!err && mas_find(&fm, ULONG_MAX)) {
		snprintf(c->reason, sizeof(c->reason),
			 "free tree holds %#lx-%#lx past the last gap",
			 fm.index, fm.last + 1);
		err = -EUCLEAN;
	}
	rcu_read_unlock();
out:
	mutex_unlock(&d->lock);
	return err;
}

static void kvs_dual_usage(struct kvs_arena *a, struct kvs_usage *u)
{
	struct kvs_dual *d = kvs_dual(a);
	unsigned long nodes;

	kvs_mt_usage(a, &d->occ, u);
	mutex_lock(&d->lock);
	nodes = kvs_mt_count_nodes(&d->free);
	mutex_unlock(&d->lock);
	u->nodes += nodes;
	u->meta_bytes += nodes * sizeof(struct maple_node);
}

const struct kvs_backend kvs_be_maple_dual = {
	.name	= "maple-dual",
	.init	= kvs_dual_init,
	.fini	= kvs_dual_fini,
	.alloc	= kvs_dual_alloc,
	.unlink	= kvs_dual_unlink,
	.lookup	= kvs_dual_lookup,
	.next	= kvs_dual_next,
	.check	= kvs_dual_check,
	.usage	= kvs_dual_usage,
};
