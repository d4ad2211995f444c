// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: the holes file, a fragmentation view of the arena.
 *
 * The free space between reservations, as the placement rule (kvs_fit())
 * sees it, counted by power-of-two size like /proc/buddyinfo: a hole of
 * n pages is of order ilog2(n), so order k counts the holes of 2^k to
 * 2^(k+1) - 1 pages, from order 0 up to the order of the whole arena.
 * No addresses: only sizes and counts.
 *
 * A hole is what no reservation covers.  Reserved, and so "used", are:
 * live areas with their guard pages; freed populated areas that await
 * the purge ("lazy": their range is not free until the purge gives it
 * back); and per-CPU chunks, whole, whatever share of them their bump
 * pointer has handed out (the backend lends a chunk's range to the
 * overlay, not to the next request).  Hence free_bytes + used_bytes is
 * always the arena's size, and largest_hole is the largest request (with
 * its guard page) that an unconstrained, unaligned alloc could take.
 *
 * The walk takes a->state_sem for read and RCU for each step
 * (kvs_next_reserved()), as the areas file does (kvs_next()), and holds
 * nothing between steps: it is not a snapshot while areas come and go (or
 * the backend is switched), but its position only moves up, so holes
 * never overlap and free + used is the arena's size whatever happens.
 */
#include <linux/debugfs.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/seq_file.h>

#include "arena.h"
#include "holes.h"

/**
 * struct kvs_holes - one walk's counts.
 * @order:        holes of each order (2^order pages, rounded down).
 * @holes:        holes in all.
 * @free:         bytes in holes.
 * @largest:      the largest hole's bytes.
 * @reservations: reservations met (a chunk is one).
 * @lazy:         bytes of freed areas awaiting the purge.
 * @chunk:        bytes of per-CPU chunks.
 */
struct kvs_holes {
	unsigned long order[BITS_PER_LONG];
	unsigned long holes;
	unsigned long free;
	unsigned long largest;
	unsigned long reservations;
	unsigned long lazy;
	unsigned long chunk;
};

static void kvs_holes_add(struct kvs_holes *h, unsigned long bytes)
{
	if (!bytes)
		return;
	/* Reservations are whole pages; a part page would be order 0. */
	h->order[ilog2(max(bytes >> PAGE_SHIFT, 1UL))]++;
	h->holes++;
	h->free += bytes;
	h->largest = max(h->largest, bytes);
}

/*
 * Walk the reservations in address order and count the gaps between
 * them, and those at the arena's two ends.
 * Context: process context, a->state_sem not held; may sleep.
 */
static void kvs_holes_walk(struct kvs_arena *a, struct kvs_holes *h)
{
	unsigned long addr = a->base, end = a->base + a->size;
	struct kvs_area va;

	while (addr < end && kvs_next_reserved(a, addr, &va) &&
	       va.start < end) {
		/*
		 * next() returns start >= addr; were it not to, the walk
		 * stops rather than count a hole twice or loop.
		 */
		if (va.start < addr || va.end <= va.start)
			break;
		kvs_holes_add(h, va.start - addr);
		va.end = min(va.end, end);
		h->reservations++;
		if (va.flags & KVS_AF_LAZY)
			h->lazy += va.end - va.start;
		if (va.flags & KVS_AF_CHUNK)
			h->chunk += va.end - va.start;
		addr = va.end;
		cond_resched();
	}
	if (addr < end)
		kvs_holes_add(h, end - addr);
}

static int holes_show(struct seq_file *m, void *v)
{
	struct kvs_arena *a = m->private;
	unsigned long k, top = ilog2(max(a->size >> PAGE_SHIFT, 1UL));
	struct kvs_holes h = {};

	kvs_holes_walk(a, &h);
	seq_printf(m, "arena_bytes %lu\n", a->size);
	seq_printf(m, "page_size %lu\n", PAGE_SIZE);
	seq_printf(m, "free_bytes %lu\n", h.free);
	seq_printf(m, "used_bytes %lu\n", a->size - h.free);
	seq_printf(m, "holes %lu\n", h.holes);
	seq_printf(m, "largest_hole %lu\n", h.largest);
	seq_printf(m, "reservations %lu\n", h.reservations);
	seq_printf(m, "lazy_bytes %lu\n", h.lazy);
	seq_printf(m, "chunk_bytes %lu\n", h.chunk);
	for (k = 0; k <= top; k++)
		seq_printf(m, "order_%lu %lu\n", k, h.order[k]);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(holes);

/**
 * kvs_holes_debugfs() - create the holes file in @dir.
 * @dir: kvashim's debugfs directory.
 * @a:   the arena it describes.
 */
void kvs_holes_debugfs(struct dentry *dir, struct kvs_arena *a)
{
	debugfs_create_file("holes", 0400, dir, a, &holes_fops);
}
