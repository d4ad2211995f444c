// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: page-backed areas.
 *
 * "alloc SIZE populate" does what vmalloc() does after it has found its
 * range: allocate order-0 pages (in bulk, topped up one at a time) and
 * map them with the kernel's page protection.  The mapping goes through
 * apply_to_page_range(), which is exported and allocates the page tables
 * it needs; only init_mm, whose tables map the vmalloc space, and x86's
 * flush_tlb_kernel_range() come from ksym.c.  Where kallsyms lists no
 * data symbols (no init_mm: Debian's arm64 6.1), mm's own
 * vmap_pages_range_noflush() and vunmap_range_noflush() do the same.
 * Page-table walks use vmalloc_to_page(), exported everywhere.  A free
 * clears the PTEs but flushes nothing: purge.c does one flush over many
 * freed areas later.
 *
 * The pages are allocated before the range is reserved, so a page
 * allocation failure leaves the index untouched.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cacheflush.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/percpu-rwsem.h>
#include <linux/rcupdate.h>
#include <linux/pgtable.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <asm/tlbflush.h>

#include "arena.h"
#include "backing.h"
#include "compat.h"
#include "inject.h"
#include "ksym.h"

/*
 * Never the OOM killer for a test tool's request: with __GFP_NORETRY an
 * order-0 allocation fails after one round of reclaim instead.
 */
#define KVS_BK_GFP	(GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY)

/* Pages of an area check walks in full; a larger one is sampled. */
#define KVS_CHECK_PAGES	4096

/**
 * kvs_bk_limit() - pages populated areas may hold in all, in one arena.
 *
 * vmap() refuses more pages than RAM has; a test tool takes at most half
 * of it, for all its populated areas together (lazy ones included, whose
 * pages are held until the purge), so repeated requests cannot reach
 * the OOM killer.
 */
unsigned long kvs_bk_limit(void)
{
	return totalram_pages() / 2;
}

/* Count @nr pages against the limit; false when they would pass it. */
static bool kvs_bk_reserve(struct kvs_arena *a, unsigned long nr)
{
	if (atomic_long_add_return(nr, &a->purge->backed) <= kvs_bk_limit())
		return true;
	atomic_long_sub(nr, &a->purge->backed);
	return false;
}

/* A backing with @nr_pages pages, or NULL (nothing left allocated). */
static struct kvs_backing *kvs_bk_alloc(unsigned long nr_pages)
{
	struct kvs_backing *bk;
	unsigned long got;

	bk = kvzalloc(struct_size(bk, pages, nr_pages), KVS_BK_GFP);
	if (!bk)
		return NULL;
	INIT_LIST_HEAD(&bk->lazy);
	got = kvs_alloc_pages_bulk(KVS_BK_GFP, nr_pages, bk->pages);
	/* The bulk allocator may stop short; vmalloc tops up the same way. */
	while (got < nr_pages) {
		bk->pages[got] = alloc_page(KVS_BK_GFP);
		if (!bk->pages[got])
			break;
		got++;
	}
	bk->nr_pages = got;
	if (got < nr_pages) {
		while (got)
			__free_page(bk->pages[--got]);
		kvfree(bk);
		return NULL;
	}
	return bk;
}

/**
 * kvs_bk_get() - the pages for a populated area, before it is placed.
 * @a:  the arena.
 * @va: the new area (KVS_OWN_NEW); @va->size set.  Sets @va->bk.
 * @e:  the reason, on failure.
 *
 * Past the limit, freed areas still holding pages are purged first and
 * the count tried once more, as an allocation that finds no gap does.
 * Context: a->state_sem not held; may sleep.
 * Return: 0, or -ENOMEM (limit reached, or no pages).
 */
int kvs_bk_get(struct kvs_arena *a, struct kvs_area *va, struct kvs_err *e)
{
	unsigned long nr = va->size >> PAGE_SHIFT;

	lockdep_assert_not_held(&a->state_sem);
	if (!kvs_bk_reserve(a, nr)) {
		kvs_purge_retry(a);
		if (!kvs_bk_reserve(a, nr))
			return kvs_fail(e, -ENOMEM,
					"populated areas hold %ld pages; %lu more would pass half of RAM (%lu)",
					atomic_long_read(&a->purge->backed), nr,
					kvs_bk_limit());
	}
	va->bk = kvs_fault(a, KVS_INJ_PAGE) ? NULL : kvs_bk_alloc(nr);
	if (!va->bk) {
		atomic_long_sub(nr, &a->purge->backed);
		return kvs_fail(e, -ENOMEM, "no memory for %lu pages", nr);
	}
	va->bk->va = va;
	return 0;
}

/**
 * kvs_bk_free_pages() - give the pages back to the page allocator.
 * @a:  the arena they were counted in.
 * @bk: the backing; its pages must be mapped nowhere (unmapped and the
 *      TLB flushed, or never mapped).  Calling it again does nothing.
 */
void kvs_bk_free_pages(struct kvs_arena *a, struct kvs_backing *bk)
{
	unsigned long i;

	for (i = 0; i < bk->nr_pages; i++)
		__free_page(bk->pages[i]);
	atomic_long_sub(bk->nr_pages, &a->purge->backed);
	bk->nr_pages = 0;
}

/**
 * kvs_bk_put() - free the pages, then the backing itself.
 * @a:  the arena.
 * @bk: the backing, unreachable by any lookup.
 */
void kvs_bk_put(struct kvs_arena *a, struct kvs_backing *bk)
{
	kvs_bk_free_pages(a, bk);
	kvfree(bk);
}

/* === Page tables === */

struct kvs_map_ctx {
	struct page **pages;
	unsigned long i;
};

/* With init_mm: apply_to_page_range(), one PTE at a time. */
static int kvs_map_pte(pte_t *pte, unsigned long addr, void *data)
{
	struct kvs_map_ctx *ctx = data;
	struct page *page = ctx->pages[ctx->i];

	/* The arena is ours alone: a PTE already there is a kvashim bug. */
	if (!pte_none(ptep_get(pte)))
		return -EEXIST;
	set_pte_at(kvs_ksym.init_mm, addr, pte,
		   pfn_pte(page_to_pfn(page), PAGE_KERNEL));
	ctx->i++;
	return 0;
}

static int kvs_unmap_pte(pte_t *pte, unsigned long addr, void *data)
{
	ptep_get_and_clear(kvs_ksym.init_mm, addr, pte);
	return 0;
}

/**
 * kvs_bk_flush() - flush the kernel TLB for [@start, @end) on every CPU.
 * @start: first byte.
 * @end:   first byte after.
 */
void kvs_bk_flush(unsigned long start, unsigned long end)
{
#if KVS_FLUSH_TLB_KERNEL_OUT_OF_LINE
	kvs_ksym.flush_tlb_kernel_range(start, end);
#else
	flush_tlb_kernel_range(start, end);
#endif
}

/**
 * kvs_bk_unmap() - clear every PTE of [@start, @start + @size).
 * @start: page aligned.
 * @size:  page aligned.
 *
 * No TLB flush: stale entries may remain until the caller (or the lazy
 * purge) flushes the range, and the pages stay allocated until then.
 */
void kvs_bk_unmap(unsigned long start, unsigned long size)
{
	flush_cache_vunmap(start, start + size);
	/*
	 * apply_to_page_range(), not apply_to_existing_page_range(), which
	 * Debian's 7.3 does not export: the tables exist wherever this area was
	 * mapped, and where a failed mapping never got, building one to
	 * clear it is harmless.
	 */
	if (kvs_ksym.init_mm)
		apply_to_page_range(kvs_ksym.init_mm, start, size,
				    kvs_unmap_pte, NULL);
	else
		kvs_ksym.vunmap_range_noflush(start, start + size);
}

/* Map @nr pages at @start: 0, -ENOMEM (page tables), -EEXIST/-EBUSY. */
static int kvs_map_range(unsigned long start, struct page **pages,
			 unsigned long nr)
{
	struct kvs_map_ctx ctx = { .pages = pages };

	if (!kvs_ksym.init_mm)
		return kvs_ksym.vmap_pages_range_noflush(start,
				start + (nr << PAGE_SHIFT), PAGE_KERNEL, pages,
				PAGE_SHIFT);
	return apply_to_page_range(kvs_ksym.init_mm, start, nr << PAGE_SHIFT,
				   kvs_map_pte, &ctx);
}

/*
 * Map @bk's pages at @start, PAGE_KERNEL, as vmalloc does.  Returns 0, or
 * -ENOMEM when a page table could not be allocated, -EUCLEAN when a page
 * was mapped there already; then whatever was mapped is unmapped and
 * flushed again.
 */
static int kvs_bk_map(struct kvs_arena *a, struct kvs_backing *bk,
		      unsigned long start)
{
	unsigned long size = bk->nr_pages << PAGE_SHIFT;
	int err;

	err = kvs_fault(a, KVS_INJ_PTE) ? -ENOMEM :
	      kvs_map_range(start, bk->pages, bk->nr_pages);
	if (err) {
		kvs_bk_unmap(start, size);
		kvs_bk_flush(start, start + size);
		return err == -ENOMEM ? -ENOMEM : -EUCLEAN;
	}
	flush_cache_vmap(start, start + size);
	return 0;
}

/**
 * kvs_bk_populate() - map a just-placed area's pages.
 * @a:  the arena.
 * @va: the area, indexed and not yet handed out; @va->bk holds its pages.
 * @e:  the reason, on failure.
 *
 * On failure the mapping is undone and flushed, the pages are freed and
 * the area goes on the lazy list, so its range returns at the next purge
 * like any freed area's: the index is never edited behind the backend.
 * Context: a->state_sem held for read; the caller owns @va (NEW).
 * Return: 0, or -ENOMEM / -EUCLEAN, and then @va belongs to the lazy list.
 */
int kvs_bk_populate(struct kvs_arena *a, struct kvs_area *va,
		    struct kvs_err *e)
{
	struct kvs_backing *bk = va->bk;
	int err;

	kvs_assert_state(a);
	err = kvs_bk_map(a, bk, va->start);
	if (err) {
		kvs_bk_free_pages(a, bk);
		kvs_lazy_add(a, va, KVS_OWN_NEW);
		if (err == -EUCLEAN)
			return kvs_fail(e, err,
					"a page is already mapped in [%#lx, %#lx)",
					va->start, va->start + va->size);
		return kvs_fail(e, err, "no memory for the page tables of %#lx",
				va->start);
	}
	/* The caller's move to LIVE orders the PTE writes before any claim. */
	atomic_long_inc(&a->purge->populated);
	return 0;
}

/* Pages a page-table walk looks at between two cond_resched(). */
#define KVS_WALK_BATCH	512

/*
 * Mapped pages of [@start, @start + @size), one vmalloc_to_page() each
 * (exported on every kernel).  With @resched it yields every
 * KVS_WALK_BATCH pages: a terabyte arena is 2^28 of them.
 */
static unsigned long kvs_bk_walk(unsigned long start, unsigned long size,
				 bool resched)
{
	unsigned long addr, n = 0, i = 0;

	for (addr = start; addr < start + size; addr += PAGE_SIZE) {
		if (vmalloc_to_page((void *)addr))
			n++;
		if (resched && !(++i % KVS_WALK_BATCH))
			cond_resched();
	}
	return n;
}

/**
 * kvs_bk_present() - how many pages of [@start, @start + @size) are mapped.
 * @start: page aligned.
 * @size:  page aligned.
 *
 * Context: process context; may sleep (the walk yields).
 */
unsigned long kvs_bk_present(unsigned long start, unsigned long size)
{
	might_sleep();
	return kvs_bk_walk(start, size, true);
}

/* === Touch === */

/* A value no page holds by chance: the word's own address, scrambled. */
static inline unsigned long kvs_pattern(unsigned long addr)
{
	return addr ^ 0x5a5a6b7673686d5aUL;
}

/* Write a page, read it back; the index of the first bad word, or -1. */
static long kvs_touch_page(unsigned long addr)
{
	unsigned long *w = (unsigned long *)addr;
	unsigned long i, n = PAGE_SIZE / sizeof(*w);

	for (i = 0; i < n; i++)
		WRITE_ONCE(w[i], kvs_pattern((unsigned long)&w[i]));
	for (i = 0; i < n; i++)
		if (READ_ONCE(w[i]) != kvs_pattern((unsigned long)&w[i]))
			return i;
	return -1;
}

/**
 * kvs_bk_touch() - write a pattern to every page of an area, read it back.
 * @a:     the arena.
 * @addr:  any address inside a live populated area.
 * @pages: pages touched, on success.
 * @e:     the reason, on failure.
 *
 * The area is claimed (KVS_BK_BUSY) for the walk, so a concurrent free
 * gets -EBUSY instead of unmapping pages under it.
 *
 * Return: 0; -ENOENT (no live area there), -EINVAL (not populated),
 * -EBUSY (being mapped or touched), -EIO (a word read back wrong).
 */
int kvs_bk_touch(struct kvs_arena *a, unsigned long addr,
		 unsigned long *pages, struct kvs_err *e)
{
	struct kvs_area *found;
	unsigned long i, start = 0;
	enum kvs_own own = KVS_OWN_LIVE;
	long bad;
	int err = -ENOENT;

	might_sleep();
	percpu_down_read(&a->state_sem);
	rcu_read_lock();
	found = kvs_lookup(a, addr);
	if (found) {
		start = found->start;
		*pages = found->size >> PAGE_SHIFT;
		own = kvs_own(found);
		err = !found->bk ? -EINVAL :
		      kvs_own_move(found, KVS_OWN_LIVE, KVS_OWN_TOUCH) ? 0 :
		      kvs_own_freed(own) ? -ENOENT : -EBUSY;
	}
	rcu_read_unlock();
	percpu_up_read(&a->state_sem);

	if (!found)
		return kvs_fail(e, -ENOENT, "no live area contains %#lx", addr);
	if (err == -EINVAL)
		return kvs_fail(e, err,
				"area at %#lx has no pages (allocate it with populate)",
				start);
	if (err == -ENOENT)
		return kvs_fail(e, err, "area at %#lx was freed", start);
	if (err)
		return kvs_fail(e, err, "area at %#lx is being %s", start,
				own == KVS_OWN_NEW ? "mapped" : "touched");

	/* Ours (TOUCH): nothing can unmap or free it until we hand it back. */
	for (i = 0; i < *pages; i++) {
		bad = kvs_touch_page(start + (i << PAGE_SHIFT));
		if (bad >= 0) {
			err = kvs_fail(e, -EIO,
				       "page %lu of the area at %#lx read back wrong at byte %lu",
				       i, start, bad * sizeof(long));
			break;
		}
		cond_resched();
	}
	kvs_own_move(found, KVS_OWN_TOUCH, KVS_OWN_LIVE);
	return err;
}

/**
 * kvs_bk_ptes() - count the present PTEs of a range of the arena.
 * @a:       the arena.
 * @addr:    start, rounded down to a page.
 * @size:    bytes, rounded up to pages.
 * @present: PTEs that map a page.
 * @total:   pages in the range.
 * @e:       the reason, on failure.
 *
 * Return: 0, -EINVAL (no pages can be mapped in this arena), -ERANGE
 * (not inside the arena).
 */
int kvs_bk_ptes(struct kvs_arena *a, unsigned long addr, unsigned long size,
		unsigned long *present, unsigned long *total,
		struct kvs_err *e)
{
	unsigned long start = PAGE_ALIGN_DOWN(addr), end;

	if (!a->purge)
		return kvs_fail(e, -EINVAL, "this arena maps no pages");
	if (!size || check_add_overflow(addr, size, &end) ||
	    start < a->base || PAGE_ALIGN(end) > a->base + a->size ||
	    PAGE_ALIGN(end) < end)
		return kvs_fail(e, -ERANGE,
				"[%#lx, +%#lx) is not inside the arena [%#lx, %#lx)",
				addr, size, a->base, a->base + a->size);
	*total = (PAGE_ALIGN(end) - start) >> PAGE_SHIFT;
	*present = kvs_bk_present(start, *total << PAGE_SHIFT);
	return 0;
}

/**
 * kvs_bk_check() - the page-table invariants of one indexed area.
 * @a:  the arena.
 * @c:  the walk; counts lazy areas apart from live ones.
 * @va: the area.
 *
 * A live populated area maps every page and nothing on its guard page;
 * a lazy one maps nothing; an unpopulated one maps nothing either.  The
 * walk runs under a backend's spinlock and cannot yield, so past
 * KVS_CHECK_PAGES an area is sampled: its first and last KVS_CHECK_PAGES/2
 * pages and its guard page, where a mapping left by an earlier occupant
 * of the range would begin or end.  Populated areas are at most half of
 * RAM; an unpopulated one may be a terabyte.
 * Context: a->state_sem held for write; may run under a backend's
 * spinlock (the walk allocates nothing and does not sleep).
 *
 * Return: 0 or -EUCLEAN with @c->reason set.
 */
int kvs_bk_check(struct kvs_arena *a, struct kvs_check *c,
		 const struct kvs_area *va)
{
	unsigned long span = va->end - va->start, half = KVS_CHECK_PAGES / 2;
	unsigned long want = 0, got;
	enum kvs_own own = kvs_own(va);
	bool mapped = va->bk && (own == KVS_OWN_LIVE || own == KVS_OWN_TOUCH);

	kvs_assert_state(a);
	if (!a->purge)
		return 0;
	if (mapped)
		want = va->size >> PAGE_SHIFT;
	if (mapped || span <= KVS_CHECK_PAGES << PAGE_SHIFT) {
		got = kvs_bk_walk(va->start, span, false);
	} else {
		got = kvs_bk_walk(va->start, half << PAGE_SHIFT, false) +
		      kvs_bk_walk(va->end - (half << PAGE_SHIFT),
				  half << PAGE_SHIFT, false);
	}
	if (got == want)
		return 0;
	snprintf(c->reason, sizeof(c->reason),
		 "area %#lx (%s) maps %lu pages, expected %lu", va->start,
		 !va->bk ? "unpopulated" : kvs_own_freed(own) ? "lazy" : "populated",
		 got, want);
	return -EUCLEAN;
}
