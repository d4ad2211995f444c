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

/**
 * kvs_bk_alloc() - a backing with @nr_pages pages.
 * @nr_pages: pages to allocate; at least one.
 *
 * Return: the backing, or NULL when the pages or the array could not be
 * had (nothing is left allocated).
 */
struct kvs_backing *kvs_bk_alloc(unsigned long nr_pages)
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
		kvs_bk_destroy(bk);
		return NULL;
	}
	return bk;
}

/**
 * kvs_bk_free_pages() - give the pages back to the page allocator.
 * @bk: the backing; its pages must be mapped nowhere (unmapped and the
 *      TLB flushed, or never mapped).
 */
void kvs_bk_free_pages(struct kvs_backing *bk)
{
	unsigned long i;

	for (i = 0; i < bk->nr_pages; i++)
		__free_page(bk->pages[i]);
	bk->nr_pages = 0;
}

/**
 * kvs_bk_destroy() - free the pages, then the backing itself.
 * @bk: the backing, unreachable by any lookup.
 */
void kvs_bk_destroy(struct kvs_backing *bk)
{
	kvs_bk_free_pages(bk);
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

/**
 * kvs_bk_map() - map @bk's pages at @start, PAGE_KERNEL, as vmalloc does.
 * @bk:    the pages.
 * @start: where the area starts; its range is reserved.
 *
 * Return: 0, or -ENOMEM when a page table could not be allocated; then
 * whatever was mapped is unmapped and flushed again.
 */
int kvs_bk_map(struct kvs_backing *bk, unsigned long start)
{
	unsigned long size = bk->nr_pages << PAGE_SHIFT;
	int err;

	err = kvs_inject(KVS_INJ_PTE) ? -ENOMEM :
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
 * Context: a->state_sem held for read.
 * Return: 0, or -ENOMEM / -EUCLEAN, and then @va belongs to the lazy list.
 */
int kvs_bk_populate(struct kvs_arena *a, struct kvs_area *va,
		    struct kvs_err *e)
{
	struct kvs_backing *bk = va->bk;
	int err = kvs_bk_map(bk, va->start);

	if (err) {
		kvs_bk_free_pages(bk);
		kvs_lazy_add(a, va);
		if (err == -EUCLEAN)
			return kvs_fail(e, err,
					"a page is already mapped in [%#lx, %#lx)",
					va->start, va->start + va->size);
		return kvs_fail(e, err, "no memory for the page tables of %#lx",
				va->start);
	}
	atomic_long_add(bk->nr_pages, &a->purge->backed);
	atomic_long_inc(&a->purge->populated);
	/* The lock orders the PTE writes before any claim that sees MAPPED. */
	spin_lock(&a->purge->lock);
	set_bit(KVS_BK_MAPPED, &bk->state);
	spin_unlock(&a->purge->lock);
	return 0;
}

/**
 * kvs_bk_present() - how many pages of [@start, @start + @size) are mapped.
 * @start: page aligned.
 * @size:  page aligned.
 *
 * Walks the kernel page table with vmalloc_to_page(), exported on every
 * kernel, one page at a time.
 * Context: any; takes no lock, allocates nothing, does not sleep.
 */
unsigned long kvs_bk_present(unsigned long start, unsigned long size)
{
	unsigned long addr, n = 0;

	for (addr = start; addr < start + size; addr += PAGE_SIZE)
		if (vmalloc_to_page((void *)addr))
			n++;
	return n;
}

/**
 * kvs_bk_lazy() - was @va freed, its range awaiting the purge?
 * @va: any area.
 */
bool kvs_bk_lazy(const struct kvs_area *va)
{
	return va->bk && test_bit(KVS_BK_LAZY, &va->bk->state);
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
	struct kvs_backing *bk = NULL;
	struct kvs_area *found;
	unsigned long i, start = 0;
	long bad;
	int err = -ENOENT;

	percpu_down_read(&a->state_sem);
	rcu_read_lock();
	found = kvs_lookup(a, addr);
	if (found) {
		start = found->start;
		*pages = found->size >> PAGE_SHIFT;
		bk = found->bk;
		err = bk ? kvs_bk_claim(a, bk, KVS_BK_BUSY) : -EINVAL;
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
		return kvs_fail(e, err, "area at %#lx is being mapped or touched",
				start);

	/* Claimed: nothing can unmap or free it until the release. */
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
	kvs_bk_release(a, bk);
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
 * a lazy one maps nothing; an unpopulated one maps nothing either.
 * Context: a->state_sem held for write; may run under a backend's
 * spinlock (the walk allocates nothing and does not sleep).
 *
 * Return: 0 or -EUCLEAN with @c->reason set.
 */
int kvs_bk_check(struct kvs_arena *a, struct kvs_check *c,
		 const struct kvs_area *va)
{
	unsigned long want = 0, got;

	if (!a->purge)
		return 0;
	if (va->bk && test_bit(KVS_BK_MAPPED, &va->bk->state) &&
	    !test_bit(KVS_BK_LAZY, &va->bk->state))
		want = va->size >> PAGE_SHIFT;
	got = kvs_bk_present(va->start, va->end - va->start);
	if (got == want)
		return 0;
	snprintf(c->reason, sizeof(c->reason),
		 "area %#lx (%s) maps %lu pages, expected %lu", va->start,
		 !va->bk ? "unpopulated" : kvs_bk_lazy(va) ? "lazy" : "populated",
		 got, want);
	return -EUCLEAN;
}
