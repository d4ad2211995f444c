// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: the lazy purge of freed populated areas.
 *
 * As vfree() does, a free of a populated area clears its PTEs and flushes
 * nothing: the area goes on a lazy list, its range stays reserved in the
 * index and its pages stay allocated, because a CPU may still hold a TLB
 * entry for them.  When the lazy pages pass lazy_max_pages (by default
 * the kernel's own lazy_max_pages(): 32 MiB per bit of the online CPU
 * count) a work item purges: one TLB flush over the union of the lazy
 * ranges, then the pages go back to the page allocator and the ranges to
 * the backend.  One flush for many frees is the whole point.
 *
 * Two more rules bound the list, from the 2018 free-block-tracking RFC
 * (its 2/2, "priority threshold") and from alloc_vmap_area():
 *  - past twice the threshold an allocation purges before it goes on,
 *    rather than letting frees outrun the worker;
 *  - an allocation that finds no gap purges and tries once more.
 *
 * Locking: kvs_purge::lock (a spinlock) guards the list, its counts and
 * the state bits of every backing; kvs_purge::mutex serialises purges and
 * nests inside a->state_sem, which every purge holds (for read, or for
 * write from a backend switch) because it unlinks through the backend.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/err.h>
#include <linux/log2.h>
#include <linux/moduleparam.h>
#include <linux/percpu-rwsem.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "arena.h"
#include "backing.h"
#include "trace.h"

static unsigned long lazy_max_pages;
module_param(lazy_max_pages, ulong, 0644);
MODULE_PARM_DESC(lazy_max_pages,
		 "lazy pages that start a purge; 0 (default): the kernel's lazy_max_pages(), fls(online CPUs) * 32 MiB");

/* The threshold now: the parameter, or the kernel's formula. */
static unsigned long kvs_lazy_max(void)
{
	unsigned long max = READ_ONCE(lazy_max_pages);

	if (max)
		return max;
	return fls(num_online_cpus()) * (SZ_32M >> PAGE_SHIFT);
}

static void kvs_purge_work(struct work_struct *work)
{
	struct kvs_purge *p = container_of(work, struct kvs_purge, work);

	kvs_purge(p->arena);
}

/**
 * kvs_purge_init() - give an arena that owns its range a lazy list.
 * @a: the arena; without a->vm it cannot map pages and gets none.
 *
 * Return: 0 or -ENOMEM.
 */
int kvs_purge_init(struct kvs_arena *a)
{
	struct kvs_purge *p;

	if (!a->vm)
		return 0;
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	spin_lock_init(&p->lock);
	INIT_LIST_HEAD(&p->lazy);
	mutex_init(&p->mutex);
	INIT_WORK(&p->work, kvs_purge_work);
	p->arena = a;
	a->purge = p;
	return 0;
}

/**
 * kvs_purge_exit() - purge what is left and free the lazy list.
 * @a: the arena; no free can arrive any more.
 */
void kvs_purge_exit(struct kvs_arena *a)
{
	struct kvs_purge *p = a->purge;

	if (!p)
		return;
	cancel_work_sync(&p->work);
	kvs_purge(a);
	a->purge = NULL;
	mutex_destroy(&p->mutex);
	kfree(p);
}

/* Is the lazy list past @times the threshold?  No product to wrap. */
static bool kvs_lazy_over(unsigned long nr_pages, unsigned long times)
{
	unsigned long max = kvs_lazy_max();

	return nr_pages / times > max ||
	       (nr_pages / times == max && nr_pages % times);
}

/**
 * kvs_lazy_add() - put an unmapped area on the lazy list.
 * @a:    the arena.
 * @va:   the area; its PTEs are clear, its pages (if any) still held.
 * @from: its owner now, the caller: KVS_OWN_FREE (a free) or KVS_OWN_NEW
 *        (a populate that failed).  The lazy list owns it after.
 *
 * Queues a purge when the lazy pages pass the threshold.
 * Context: a->state_sem held for read.
 */
void kvs_lazy_add(struct kvs_arena *a, struct kvs_area *va,
		  enum kvs_own from)
{
	struct kvs_purge *p = a->purge;
	bool over;

	kvs_assert_state(a);
	spin_lock(&p->lock);
	kvs_own_move(va, from, KVS_OWN_LAZY);
	list_add_tail(&va->bk->lazy, &p->lazy);
	p->nr_areas++;
	p->nr_pages += va->bk->nr_pages;
	over = kvs_lazy_over(p->nr_pages, 1);
	spin_unlock(&p->lock);
	if (over)
		schedule_work(&p->work);
}

/**
 * kvs_lazy_retire() - the rest of the free of a populated area.
 * @a:  the arena.
 * @va: the area, claimed by the caller (KVS_OWN_FREE): nobody else can
 *      free it, so it needs no RCU protection any more.
 *
 * Clears its PTEs and puts it on the lazy list; the range and the pages
 * return at the next purge.
 * Context: a->state_sem held for read.
 */
void kvs_lazy_retire(struct kvs_arena *a, struct kvs_area *va)
{
	atomic_long_dec(&a->purge->populated);
	kvs_bk_unmap(va->start, va->size);
	kvs_lazy_add(a, va, KVS_OWN_FREE);
}

/* Span of the batch, for the one flush: [*start, *end). */
static void kvs_batch_span(struct list_head *batch, unsigned long *start,
			   unsigned long *end)
{
	struct kvs_backing *bk;

	*start = ULONG_MAX;
	*end = 0;
	list_for_each_entry(bk, batch, lazy) {
		*start = min(*start, bk->va->start);
		*end = max(*end, bk->va->end);
	}
}

/*
 * Free the batch's pages (the TLB is flushed) and give each range back to
 * the backend.  An area the backend cannot unlink now (no memory to
 * shrink the index) moves to @keep, pages already freed, for the next
 * purge.  Returns the areas given back; *@pages counts the pages freed.
 */
static unsigned long kvs_batch_release(struct kvs_arena *a,
				       struct list_head *batch,
				       struct list_head *keep,
				       unsigned long *pages)
{
	struct kvs_backing *bk, *tmp;
	unsigned long areas = 0;

	*pages = 0;
	list_for_each_entry_safe(bk, tmp, batch, lazy) {
		*pages += bk->nr_pages;
		kvs_bk_free_pages(a, bk);
		/* The purge owns it (PURGE): the backend unlinks just this. */
		if (a->be->unlink(a, bk->va)) {
			kvs_own_move(bk->va, KVS_OWN_PURGE, KVS_OWN_LAZY);
			list_move_tail(&bk->lazy, keep);
			continue;
		}
		list_del_init(&bk->lazy);
		kvs_area_free(a, bk->va);
		areas++;
		cond_resched();
	}
	return areas;
}

/* Take the whole lazy list into @batch; its areas pass to the purge. */
static void kvs_batch_take(struct kvs_purge *p, struct list_head *batch)
{
	struct kvs_backing *bk;

	spin_lock(&p->lock);
	list_splice_init(&p->lazy, batch);
	list_for_each_entry(bk, batch, lazy)
		kvs_own_move(bk->va, KVS_OWN_LAZY, KVS_OWN_PURGE);
	spin_unlock(&p->lock);
}

/**
 * kvs_purge_locked() - flush and give back everything on the lazy list.
 * @a: the arena.
 *
 * Context: a->state_sem held, for read or for write; may sleep.
 * Return: the areas given back to the backend.
 */
unsigned long kvs_purge_locked(struct kvs_arena *a)
{
	u64 t0 = kvs_trace_clock(trace_kvashim_purge_enabled());
	struct kvs_purge *p = a->purge;
	unsigned long start, end, areas = 0, pages = 0;
	LIST_HEAD(batch);
	LIST_HEAD(keep);

	if (!p)
		return 0;
	kvs_assert_state(a);
	might_sleep();
	mutex_lock(&p->mutex);
	kvs_batch_take(p, &batch);
	if (list_empty(&batch))
		goto out;

	kvs_batch_span(&batch, &start, &end);
	kvs_bk_flush(start, end);
	areas = kvs_batch_release(a, &batch, &keep, &pages);

	/* The areas kept pass back to the list, still lazy, pages freed. */
	spin_lock(&p->lock);
	p->nr_areas -= areas;
	p->nr_pages -= pages;
	list_splice(&keep, &p->lazy);
	spin_unlock(&p->lock);

	atomic_long_inc(&p->purges);
	atomic_long_add(areas, &p->purged_areas);
	atomic_long_add(pages, &p->flushed);
	trace_kvashim_purge(start, end, areas, pages, kvs_trace_lat(t0));
out:
	mutex_unlock(&p->mutex);
	return areas;
}

/**
 * kvs_purge() - purge now, as the "purge" command and the work item do.
 * @a: the arena.
 *
 * Context: process context, a->state_sem not held; may sleep.
 * Return: the areas given back.
 */
unsigned long kvs_purge(struct kvs_arena *a)
{
	unsigned long n;

	if (!a->purge)
		return 0;
	percpu_down_read(&a->state_sem);
	n = kvs_purge_locked(a);
	percpu_up_read(&a->state_sem);
	return n;
}

/**
 * kvs_purge_throttle() - the priority threshold, before an allocation.
 * @a: the arena.
 *
 * Past twice the threshold the worker is not keeping up: the allocating
 * task purges (or waits for the purge in progress) instead of growing
 * the list further.
 * Context: a->state_sem not held.
 */
void kvs_purge_throttle(struct kvs_arena *a)
{
	struct kvs_purge *p = a->purge;

	lockdep_assert_not_held(&a->state_sem);
	if (!p || !kvs_lazy_over(READ_ONCE(p->nr_pages), 2))
		return;
	atomic_long_inc(&p->waits);
	kvs_purge(a);
}

/**
 * kvs_purge_retry() - purge before an allocation's one retry.
 * @a: the arena, which found no gap or no page budget.
 *
 * The caller retries whatever this gave back: a purge in progress
 * elsewhere (the worker's) may have given back what it wanted, and this
 * one then waits for it (the purge mutex) and finds nothing left.
 * Context: a->state_sem not held.
 */
void kvs_purge_retry(struct kvs_arena *a)
{
	lockdep_assert_not_held(&a->state_sem);
	if (!a->purge || !READ_ONCE(a->purge->nr_areas))
		return;
	atomic_long_inc(&a->purge->retries);
	kvs_purge(a);
}

/**
 * kvs_purge_zero() - zero the purge counters, for "reset".
 * @a: the arena.
 */
void kvs_purge_zero(struct kvs_arena *a)
{
	struct kvs_purge *p = a->purge;

	if (!p)
		return;
	atomic_long_set(&p->purges, 0);
	atomic_long_set(&p->purged_areas, 0);
	atomic_long_set(&p->flushed, 0);
	atomic_long_set(&p->waits, 0);
	atomic_long_set(&p->retries, 0);
}

/**
 * kvs_lazy_areas() - areas freed and awaiting the purge.
 * @a: the arena.
 */
unsigned long kvs_lazy_areas(struct kvs_arena *a)
{
	return a->purge ? READ_ONCE(a->purge->nr_areas) : 0;
}

/**
 * kvs_purge_show() - the backing and purge lines of the stats file.
 * @a: the arena.
 * @m: the file.
 */
void kvs_purge_show(struct kvs_arena *a, struct seq_file *m)
{
	struct kvs_purge *p = a->purge;
	unsigned long areas, pages;

	if (!p)
		return;
	spin_lock(&p->lock);
	areas = p->nr_areas;
	pages = p->nr_pages;
	spin_unlock(&p->lock);
	seq_printf(m, "populated_areas %ld\n", atomic_long_read(&p->populated));
	seq_printf(m, "backed_pages %ld\n", atomic_long_read(&p->backed));
	seq_printf(m, "lazy_areas %lu\n", areas);
	seq_printf(m, "lazy_pages %lu\n", pages);
	seq_printf(m, "lazy_max_pages %lu\n", kvs_lazy_max());
	seq_printf(m, "purges %ld\n", atomic_long_read(&p->purges));
	seq_printf(m, "purged_areas %ld\n", atomic_long_read(&p->purged_areas));
	seq_printf(m, "pages_flushed %ld\n", atomic_long_read(&p->flushed));
	seq_printf(m, "purge_waits %ld\n", atomic_long_read(&p->waits));
	seq_printf(m, "purge_retries %ld\n", atomic_long_read(&p->retries));
}
