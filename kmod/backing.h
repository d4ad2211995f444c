/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: page-backed areas (see backing.c) and their lazy purge
 * (see purge.c).
 */
#ifndef KVASHIM_BACKING_H
#define KVASHIM_BACKING_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "arena.h"

struct page;
struct seq_file;

/**
 * struct kvs_purge - an arena's lazy list and what its purges did.
 * @lock:      guards @lazy, @nr_areas and @nr_pages, and every move of an
 *             area to or from KVS_OWN_LAZY.  Never held across a sleep.
 * @lazy:      freed populated areas, oldest first.
 * @nr_areas:  areas on @lazy.
 * @nr_pages:  pages they still hold (the kernel's vmap_lazy_nr).
 * @mutex:     one purge at a time; taken inside a->state_sem (read or
 *             write), never the other way round.
 * @work:      the purge queued when @nr_pages passes the threshold.
 * @arena:     the arena, for @work.
 * @populated: populated areas that are live (mapped, not yet freed).
 * @backed:    pages kvashim holds or has reserved for this arena, mapped
 *             or lazy; at most kvs_bk_limit().
 * @purges:    purges that found something to do.
 * @purged_areas: areas they gave back to the index.
 * @flushed:   pages they freed after their TLB flush.
 * @waits:     allocations that purged first: past twice the threshold.
 * @retries:   allocations that purged and tried again after ENOMEM.
 */
struct kvs_purge {
	spinlock_t lock;	/* see @lock above */
	struct list_head lazy;
	unsigned long nr_areas;
	unsigned long nr_pages;
	struct mutex mutex;	/* see @mutex above */
	struct work_struct work;
	struct kvs_arena *arena;
	atomic_long_t populated;
	atomic_long_t backed;
	atomic_long_t purges;
	atomic_long_t purged_areas;
	atomic_long_t flushed;
	atomic_long_t waits;
	atomic_long_t retries;
};

/* backing.c: pages, page tables, touch. */
unsigned long kvs_bk_limit(void);
int kvs_bk_get(struct kvs_arena *a, struct kvs_area *va, struct kvs_err *e);
void kvs_bk_free_pages(struct kvs_arena *a, struct kvs_backing *bk);
void kvs_bk_put(struct kvs_arena *a, struct kvs_backing *bk);
int kvs_bk_populate(struct kvs_arena *a, struct kvs_area *va,
		    struct kvs_err *e);
void kvs_bk_unmap(unsigned long start, unsigned long size);
void kvs_bk_flush(unsigned long start, unsigned long end);
unsigned long kvs_bk_present(unsigned long start, unsigned long size);
int kvs_bk_touch(struct kvs_arena *a, unsigned long addr,
		 unsigned long *pages, struct kvs_err *e);
int kvs_bk_ptes(struct kvs_arena *a, unsigned long addr, unsigned long size,
		unsigned long *present, unsigned long *total,
		struct kvs_err *e);
int kvs_bk_check(struct kvs_arena *a, struct kvs_check *c,
		 const struct kvs_area *va);

/* purge.c: the lazy list. */
int kvs_purge_init(struct kvs_arena *a);
void kvs_purge_exit(struct kvs_arena *a);
unsigned long kvs_purge(struct kvs_arena *a);
unsigned long kvs_purge_locked(struct kvs_arena *a);
void kvs_purge_throttle(struct kvs_arena *a);
void kvs_purge_retry(struct kvs_arena *a);
void kvs_purge_zero(struct kvs_arena *a);
void kvs_lazy_retire(struct kvs_arena *a, struct kvs_area *va);
void kvs_lazy_add(struct kvs_arena *a, struct kvs_area *va,
		  enum kvs_own from);
unsigned long kvs_lazy_areas(struct kvs_arena *a);
void kvs_purge_show(struct kvs_arena *a, struct seq_file *m);

#endif /* KVASHIM_BACKING_H */
