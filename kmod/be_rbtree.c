// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: the "rbtree" backend, vmalloc's KVA allocator since v5.2.
 *
 * Free space is kept as free blocks, one per maximal free range, in an
 * rb-tree sorted by address and augmented with subtree_max_size, the size
 * of the largest block in each subtree ("mm/vmap: keep track of free
 * blocks for vmap allocation", Uladzislau Rezki, 2018-2019).  With it one
 * descent finds the lowest (or highest) block that is large enough, so an
 * allocation costs O(log n) however fragmented the arena is.  The same
 * blocks are also on a list sorted by address, which gives a block's
 * neighbours in O(1) for merging.  Live areas sit in a second, plain
 * rb-tree sorted by start (kvs_area::link.rb) for free, lookup and walks.
 *
 * An allocation splits the block it lands in by how it fits there (the
 * fit types of the RFC): a full fit removes the block, a left- or
 * right-edge fit shrinks it, a no-edge fit shrinks it and adds a second
 * block for the space above the area.  A free gives the reservation back
 * merged with the free blocks it touches, so the free blocks are always
 * exactly the gaps between areas: the gaps "maple" searches, which is why
 * both backends place every area at the same address.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/minmax.h>
#include <linux/percpu.h>
#include <linux/rbtree_augmented.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "arena.h"
#include "inject.h"

/**
 * struct kvs_rb_free - one free block, a maximal free range of the arena.
 * @rb:               node in kvs_rb::free_root, sorted by @start.
 * @start:            first free byte.
 * @end:              first byte after the block.
 * @subtree_max_size: size of the largest block in the subtree rooted here.
 * @list:             entry in kvs_rb::free_list, sorted by @start.
 */
struct kvs_rb_free {
	struct rb_node rb;
	unsigned long start;
	unsigned long end;
	unsigned long subtree_max_size;
	struct list_head list;
};

/**
 * struct kvs_rb - the backend's state.
 * @lock:       guards both trees, the free list, the counts and every free
 *              block.  Lookups take it too, under the caller's RCU read
 *              lock.  Nothing allocates or sleeps under it: the block that
 *              a split or a free may need is allocated before it is taken,
 *              and freed after it is dropped if it went unused; blocks a
 *              full fit or a merge removes are freed under it, which does
 *              not sleep.
 * @free_root:  the free blocks by address, augmented with subtree_max_size.
 * @free_list:  the same blocks in address order.
 * @busy_root:  the live areas by start address.
 * @nr_free:    blocks in @free_root.
 * @nr_busy:    areas in @busy_root.
 * @a:          the arena indexed, whose counters the operations bump.
 * @cachep:     where the free blocks come from.
 * @cache_name: its name: one cache per index, and two indexes can exist at
 *              once (the self tests build private arenas), so the name is
 *              numbered to stay unique in /sys/kernel/slab.
 */
struct kvs_rb {
	spinlock_t lock;	/* guards all below; see above */
	struct rb_root free_root;
	struct list_head free_list;
	struct rb_root busy_root;
	unsigned long nr_free;
	unsigned long nr_busy;
	struct kvs_arena *a;
	struct kmem_cache *cachep;
	char cache_name[32];
};

static atomic_t kvs_rb_nr_caches = ATOMIC_INIT(0);

/*
 * The augment callbacks get no context to count in, so each propagation
 * step is tallied on this CPU and moved into the arena's counters before
 * kvs_rb::lock is dropped (kvs_rb_count_steps()).  Every tree change runs
 * under that spinlock, with preemption disabled, so the tally holds the
 * steps of the current critical section and nothing else.  (On PREEMPT_RT
 * the lock only keeps the task on its CPU, so another arena's section may
 * interleave and take some steps into its own counters: a counting error,
 * never an index one.)
 */
static DEFINE_PER_CPU(unsigned long, kvs_rb_steps);

static struct kvs_rb *kvs_rb(struct kvs_arena *a)
{
	return a->be_priv;
}

/* === The free tree === */

static struct kvs_rb_free *kvs_rb_free_of(struct rb_node *n)
{
	return rb_entry(n, struct kvs_rb_free, rb);
}

static unsigned long kvs_rb_size(const struct kvs_rb_free *f)
{
	return f->end - f->start;
}

/* The largest block of a subtree; an empty one has none. */
static unsigned long kvs_rb_smax(const struct rb_node *n)
{
	return n ? rb_entry(n, struct kvs_rb_free, rb)->subtree_max_size : 0;
}

RB_DECLARE_CALLBACKS_MAX(static, kvs_rb_aug, struct kvs_rb_free, rb,
			 unsigned long, subtree_max_size, kvs_rb_size)

/*
 * Recompute subtree_max_size from @n up to @stop.  A node whose value does
 * not change leaves its ancestors as they were, so the walk stops there.
 */
static void kvs_rb_propagate(struct rb_node *n, struct rb_node *stop)
{
	while (n != stop) {
		this_cpu_inc(kvs_rb_steps);
		if (kvs_rb_aug_compute_max(kvs_rb_free_of(n), true))
			break;
		n = rb_parent(n);
	}
}

/*
 * The generated callbacks, with the propagation steps counted, for
 * erasing.  Insertion only rotates, so it can use kvs_rb_aug itself.
 */
static const struct rb_augment_callbacks kvs_rb_aug_counted = {
	.propagate	= kvs_rb_propagate,
	.copy		= kvs_rb_aug_copy,
	.rotate		= kvs_rb_aug_rotate,
};

static void kvs_rb_count_steps(struct kvs_rb *rb)
{
	kvs_count_n(rb->a, KVS_ST_RB_AUGMENT, this_cpu_xchg(kvs_rb_steps, 0));
}

/*
 * Link @f into the free tree and list right after @prev in address order,
 * or first when @prev is NULL: that is where a split or a free puts it,
 * so no search from the root is needed.
 */
static void kvs_rb_free_link(struct kvs_rb *rb, struct kvs_rb_free *prev,
			     struct kvs_rb_free *f)
{
	struct rb_node **link, *parent = NULL;

	if (!prev) {
		link = &rb->free_root.rb_node;
		while (*link) {
			parent = *link;
			link = &parent->rb_left;
		}
	} else if (!prev->rb.rb_right) {
		parent = &prev->rb;
		link = &parent->rb_right;
	} else {
		parent = prev->rb.rb_right;
		while (parent->rb_left)
			parent = parent->rb_left;
		link = &parent->rb_left;
	}

	/*
	 * The rebalancing keeps subtree_max_size right only if it is right
	 * going in: account for the new leaf in its ancestors first.
	 */
	f->subtree_max_size = kvs_rb_size(f);
	rb_link_node(&f->rb, parent, link);
	kvs_rb_propagate(parent, NULL);
	rb_insert_augmented(&f->rb, &rb->free_root, &kvs_rb_aug);
	list_add(&f->list, prev ? &prev->list : &rb->free_list);
	rb->nr_free++;
	kvs_count(rb->a, KVS_ST_RB_INSERTS);
}

/* Take @f out of the free tree and list, and free it. */
static void kvs_rb_free_drop(struct kvs_rb *rb, struct kvs_rb_free *f)
{
	rb_erase_augmented(&f->rb, &rb->free_root, &kvs_rb_aug_counted);
	list_del(&f->list);
	rb->nr_free--;
	kvs_count(rb->a, KVS_ST_RB_ERASES);
	kmem_cache_free(rb->cachep, f);
}

/* The free block that starts last below @addr, or NULL. */
static struct kvs_rb_free *kvs_rb_free_below(struct kvs_rb *rb,
					     unsigned long addr)
{
	struct rb_node *n = rb->free_root.rb_node;
	struct kvs_rb_free *f, *below = NULL;

	while (n) {
		f = kvs_rb_free_of(n);
		if (f->start < addr) {
			below = f;
			n = n->rb_right;
		} else {
			n = n->rb_left;
		}
	}
	return below;
}

/* The free block after @f in address order (the first if NULL), or NULL. */
static struct kvs_rb_free *kvs_rb_free_next(struct kvs_rb *rb,
					    struct kvs_rb_free *f)
{
	struct list_head *next = f ? f->list.next : rb->free_list.next;

	if (next == &rb->free_list)
		return NULL;
	return list_entry(next, struct kvs_rb_free, list);
}

/* === Gap search === */

/* Whether the part of @f inside the window holds the request. */
static bool kvs_rb_fits(const struct kvs_req *r, const struct kvs_rb_free *f)
{
	unsigned long gs = f->start, ge = f->end;

	return kvs_clip(r, &gs, &ge) && ge - gs >= r->need;
}

/*
 * The lowest block of the subtree @n at least @need long.  The caller has
 * seen subtree_max_size promise one, so the descent never turns back:
 * left while the left subtree holds one, else this block, else right.
 */
static struct kvs_rb_free *kvs_rb_lowest_in(struct rb_node *n,
					    unsigned long need)
{
	while (n) {
		if (kvs_rb_smax(n->rb_left) >= need) {
			n = n->rb_left;
			continue;
		}
		if (kvs_rb_size(kvs_rb_free_of(n)) >= need)
			return kvs_rb_free_of(n);
		n = n->rb_right;
	}
	return NULL;
}

/* The highest block of the subtree @n at least @need long; the mirror. */
static struct kvs_rb_free *kvs_rb_highest_in(struct rb_node *n,
					     unsigned long need)
{
	while (n) {
		if (kvs_rb_smax(n->rb_right) >= need) {
			n = n->rb_right;
			continue;
		}
		if (kvs_rb_size(kvs_rb_free_of(n)) >= need)
			return kvs_rb_free_of(n);
		n = n->rb_left;
	}
	return NULL;
}

/*
 * Bottom-up: the lowest block whose part inside the window is at least
 * r->need long.
 *
 * The window clips at most two blocks: the one holding vstart from below
 * and the one holding vend - 1 from above; every other block is wholly
 * inside or wholly outside.  So one descent towards vstart finds the last
 * block starting at or below vstart (@at, the only one that may straddle
 * it), tried first with its clipped length, and the lowest subtree above
 * vstart whose own block or right subtree holds r->need unclipped
 * (@above).  The first block of r->need above vstart is in there; it
 * qualifies unless vend clips it short, and then no later block can, as
 * those all start beyond vend.
 */
static struct kvs_rb_free *kvs_rb_find_low(struct kvs_rb *rb,
					   const struct kvs_req *r)
{
	struct rb_node *n = rb->free_root.rb_node;
	struct kvs_rb_free *f, *at = NULL, *above = NULL;

	while (n) {
		f = kvs_rb_free_of(n);
		if (f->start <= r->vstart) {
			at = f;
			n = n->rb_right;
			continue;
		}
		/* f and its right subtree come before all seen above so far. */
		if (kvs_rb_size(f) >= r->need ||
		    kvs_rb_smax(n->rb_right) >= r->need)
			above = f;
		n = n->rb_left;
	}

	if (at && kvs_rb_fits(r, at))
		return at;
	if (above && kvs_rb_size(above) < r->need)
		above = kvs_rb_lowest_in(above->rb.rb_right, r->need);
	return above && kvs_rb_fits(r, above) ? above : NULL;
}

/*
 * Top-down: the highest block whose part inside the window is at least
 * r->need long; the mirror of kvs_rb_find_low().  @at is the first block
 * ending at or above vend (the only one that may straddle it), @below the
 * highest subtree ending under vend whose own block or left subtree holds
 * r->need.  What is found there qualifies unless vstart clips it short,
 * and then no lower block can.
 */
static struct kvs_rb_free *kvs_rb_find_high(struct kvs_rb *rb,
					    const struct kvs_req *r)
{
	struct rb_node *n = rb->free_root.rb_node;
	struct kvs_rb_free *f, *at = NULL, *below = NULL;

	while (n) {
		f = kvs_rb_free_of(n);
		if (f->end >= r->vend) {
			at = f;
			n = n->rb_left;
			continue;
		}
		/* f and its left subtree come after all seen below so far. */
		if (kvs_rb_size(f) >= r->need ||
		    kvs_rb_smax(n->rb_left) >= r->need)
			below = f;
		n = n->rb_right;
	}

	if (at && kvs_rb_fits(r, at))
		return at;
	if (below && kvs_rb_size(below) < r->need)
		below = kvs_rb_highest_in(below->rb.rb_left, r->need);
	return below && kvs_rb_fits(r, below) ? below : NULL;
}

/* === Split and merge === */

/* How an area sits in the free block it takes (the RFC's fit types). */
enum kvs_rb_fit {
	KVS_RB_FL_FIT,	/* fills the block: remove it */
	KVS_RB_LE_FIT,	/* at its start: move the start up */
	KVS_RB_RE_FIT,	/* at its end: move the end down */
	KVS_RB_NE_FIT,	/* touches neither edge: split the block in two */
};

static enum kvs_rb_fit kvs_rb_fit_type(const struct kvs_rb_free *f,
				       unsigned long start, unsigned long end)
{
	if (start == f->start)
		return end == f->end ? KVS_RB_FL_FIT : KVS_RB_LE_FIT;
	return end == f->end ? KVS_RB_RE_FIT : KVS_RB_NE_FIT;
}

/*
 * Take [start, end) out of the free block @f that holds it.  Only a
 * no-edge fit needs a second block, *@spare; without one the index is
 * left unchanged and the allocation fails.
 */
static int kvs_rb_split(struct kvs_rb *rb, struct kvs_rb_free *f,
			unsigned long start, unsigned long end,
			struct kvs_rb_free **spare)
{
	struct kvs_rb_free *upper;

	switch (kvs_rb_fit_type(f, start, end)) {
	case KVS_RB_FL_FIT:
		kvs_rb_free_drop(rb, f);
		break;
	case KVS_RB_LE_FIT:
		f->start = end;
		kvs_rb_propagate(&f->rb, NULL);
		break;
	case KVS_RB_RE_FIT:
		f->end = start;
		kvs_rb_propagate(&f->rb, NULL);
		break;
	case KVS_RB_NE_FIT:
		upper = *spare;
		if (!upper)
			return -ENOMEM;
		*spare = NULL;
		upper->start = end;
		upper->end = f->end;
		f->end = start;
		kvs_rb_propagate(&f->rb, NULL);
		kvs_rb_free_link(rb, f, upper);
		break;
	}
	return 0;
}

/*
 * Give [start, end) back as free space.  @prev and @next are the free
 * blocks around it (either may be NULL): it grows the one it touches, or
 * joins both into @prev, and only when it touches neither does it become
 * a block of its own, *@spare, which the caller has made sure of.
 */
static void kvs_rb_merge(struct kvs_rb *rb, struct kvs_rb_free *prev,
			 struct kvs_rb_free *next, unsigned long start,
			 unsigned long end, struct kvs_rb_free **spare)
{
	bool join_prev = prev && prev->end == start;
	bool join_next = next && next->start == end;
	struct kvs_rb_free *f;

	if (join_prev && join_next) {
		end = next->end;
		kvs_rb_free_drop(rb, next);
		kvs_count(rb->a, KVS_ST_RB_MERGES);
	}
	if (join_prev) {
		prev->end = end;
		kvs_rb_propagate(&prev->rb, NULL);
		kvs_count(rb->a, KVS_ST_RB_MERGES);
	} else if (join_next) {
		next->start = start;
		kvs_rb_propagate(&next->rb, NULL);
		kvs_count(rb->a, KVS_ST_RB_MERGES);
	} else {
		f = *spare;
		*spare = NULL;
		f->start = start;
		f->end = end;
		kvs_rb_free_link(rb, prev, f);
	}
}

/* === The busy tree === */

static struct kvs_area *kvs_rb_area_of(struct rb_node *n)
{
	return rb_entry_safe(n, struct kvs_area, link.rb);
}

static void kvs_rb_busy_insert(struct kvs_rb *rb, struct kvs_area *va)
{
	struct rb_node **link = &rb->busy_root.rb_node, *parent = NULL;

	while (*link) {
		parent = *link;
		if (va->start < kvs_rb_area_of(parent)->start)
			link = &parent->rb_left;
		else
			link = &parent->rb_right;
	}
	rb_link_node(&va->link.rb, parent, link);
	rb_insert_color(&va->link.rb, &rb->busy_root);
	rb->nr_busy++;
	kvs_count(rb->a, KVS_ST_RB_INSERTS);
}

static void kvs_rb_busy_erase(struct kvs_rb *rb, struct kvs_area *va)
{
	rb_erase(&va->link.rb, &rb->busy_root);
	rb->nr_busy--;
	kvs_count(rb->a, KVS_ST_RB_ERASES);
}

/* The area whose reservation holds @addr, or NULL. */
static struct kvs_area *kvs_rb_busy_find(struct kvs_rb *rb,
					 unsigned long addr)
{
	struct rb_node *n = rb->busy_root.rb_node;
	struct kvs_area *va;

	while (n) {
		va = kvs_rb_area_of(n);
		if (addr < va->start)
			n = n->rb_left;
		else if (addr >= va->end)
			n = n->rb_right;
		else
			return va;
	}
	return NULL;
}

/* The first area starting at or above @addr, or NULL. */
static struct kvs_area *kvs_rb_busy_ceil(struct kvs_rb *rb,
					 unsigned long addr)
{
	struct rb_node *n = rb->busy_root.rb_node;
	struct kvs_area *va, *ceil = NULL;

	while (n) {
		va = kvs_rb_area_of(n);
		if (va->start >= addr) {
			ceil = va;
			n = n->rb_left;
		} else {
			n = n->rb_right;
		}
	}
	return ceil;
}

/* === Consistency === */

static __printf(2, 3) int kvs_rb_bad(struct kvs_check *c, const char *fmt,
				     ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, args);
	va_end(args);
	return -EUCLEAN;
}

/* Every area, in address order, through the front end's checks. */
static int kvs_rb_check_busy(struct kvs_arena *a, struct kvs_rb *rb,
			     struct kvs_check *c)
{
	unsigned long nr = 0;
	struct rb_node *n;
	int err;

	for (n = rb_first(&rb->busy_root); n; n = rb_next(n)) {
		err = kvs_check_area(a, c, kvs_rb_area_of(n));
		if (err)
			return err;
		nr++;
	}
	if (nr != rb->nr_busy)
		return kvs_rb_bad(c, "busy tree holds %lu areas, count says %lu",
				  nr, rb->nr_busy);
	return 0;
}

/*
 * The free blocks: in the arena, sorted, apart (a block touching the one
 * before should have been merged with it), the list in the tree's order,
 * and each subtree_max_size the largest of the block's size and its
 * children's values, which makes every one the largest block of its
 * subtree.  Their bytes go to *@bytes.
 */
static int kvs_rb_check_free(struct kvs_arena *a, struct kvs_rb *rb,
			     struct kvs_check *c, unsigned long *bytes)
{
	struct list_head *pos = rb->free_list.next;
	unsigned long nr = 0, prev_end = 0, want;
	struct kvs_rb_free *f;
	struct rb_node *n;

	for (n = rb_first(&rb->free_root); n; n = rb_next(n)) {
		f = kvs_rb_free_of(n);
		if (pos != &f->list)
			return kvs_rb_bad(c, "free list and tree disagree at block %#lx",
					  f->start);
		pos = pos->next;
		if (f->start >= f->end || f->start < a->base ||
		    f->end > a->base + a->size)
			return kvs_rb_bad(c, "free block %#lx-%#lx is empty or outside the arena",
					  f->start, f->end);
		if (nr && f->start < prev_end)
			return kvs_rb_bad(c, "free block %#lx overlaps the one before (ends %#lx)",
					  f->start, prev_end);
		if (nr && f->start == prev_end)
			return kvs_rb_bad(c, "free block %#lx touches the previous one: not merged",
					  f->start);
		want = max3(kvs_rb_size(f), kvs_rb_smax(n->rb_left),
			    kvs_rb_smax(n->rb_right));
		if (f->subtree_max_size != want)
			return kvs_rb_bad(c, "free block %#lx: subtree_max_size %lu, want %lu",
					  f->start, f->subtree_max_size, want);
		prev_end = f->end;
		*bytes += kvs_rb_size(f);
		nr++;
	}
	if (pos != &rb->free_list)
		return kvs_rb_bad(c, "free list holds blocks the tree lacks");
	if (nr != rb->nr_free)
		return kvs_rb_bad(c, "free tree holds %lu blocks, count says %lu",
				  nr, rb->nr_free);
	return 0;
}

/*
 * Free and busy space tile the arena: their bytes add up to it, and no
 * free block overlaps an area (both sequences are sorted: walk them
 * together).
 */
static int kvs_rb_check_tiling(struct kvs_arena *a, struct kvs_rb *rb,
			       struct kvs_check *c, unsigned long free_bytes)
{
	struct rb_node *fn = rb_first(&rb->free_root);
	struct rb_node *bn = rb_first(&rb->busy_root);
	struct kvs_rb_free *f;
	struct kvs_area *va;

	if (free_bytes + c->span != a->size)
		return kvs_rb_bad(c, "%lu free + %lu reserved bytes in a %lu-byte arena",
				  free_bytes, c->span, a->size);
	while (fn && bn) {
		f = kvs_rb_free_of(fn);
		va = kvs_rb_area_of(bn);
		if (f->end <= va->start)
			fn = rb_next(fn);
		else if (va->end <= f->start)
			bn = rb_next(bn);
		else
			return kvs_rb_bad(c, "free block %#lx-%#lx overlaps area %#lx-%#lx",
					  f->start, f->end, va->start, va->end);
	}
	return 0;
}

/* === The backend === */

static void *kvs_rb_init(struct kvs_arena *a)
{
	struct kvs_rb_free *f;
	struct kvs_rb *rb;

	rb = kzalloc(sizeof(*rb), GFP_KERNEL);
	if (!rb)
		return ERR_PTR(-ENOMEM);
	snprintf(rb->cache_name, sizeof(rb->cache_name), "kvs_rb_free_%u",
		 (unsigned int)atomic_inc_return(&kvs_rb_nr_caches));
	rb->cachep = kmem_cache_create(rb->cache_name,
				       sizeof(struct kvs_rb_free), 0, 0, NULL);
	if (!rb->cachep)
		goto free_rb;
	f = kmem_cache_alloc(rb->cachep, GFP_KERNEL);
	if (!f)
		goto destroy_cache;

	spin_lock_init(&rb->lock);
	rb->free_root = RB_ROOT;
	INIT_LIST_HEAD(&rb->free_list);
	rb->busy_root = RB_ROOT;
	rb->a = a;
	/* All of the arena is one free block. */
	f->start = a->base;
	f->end = a->base + a->size;
	kvs_rb_free_link(rb, NULL, f);
	return rb;

destroy_cache:
	kmem_cache_destroy(rb->cachep);
free_rb:
	kfree(rb);
	return ERR_PTR(-ENOMEM);
}

static void kvs_rb_fini(struct kvs_arena *a)
{
	struct kvs_rb *rb = kvs_rb(a);
	struct kvs_rb_free *f, *tmp;

	/* The areas belong to the front end, which has freed them all. */
	WARN_ON_ONCE(!RB_EMPTY_ROOT(&rb->busy_root));
	list_for_each_entry_safe(f, tmp, &rb->free_list, list)
		kmem_cache_free(rb->cachep, f);
	kmem_cache_destroy(rb->cachep);
	kfree(rb);
}

/*
 * Whether the request could land inside a free block without touching
 * either of its edges, the no-edge fit that needs a second block.  Block
 * edges, area sizes and the arena's ends are all page aligned, so an
 * area aligned only to a page and searched for in the whole arena lands
 * at a block's start (bottom-up) or end (top-down); only a larger
 * alignment or a narrower window can push it off both.  Most
 * allocations then need not preallocate.
 */
static bool kvs_rb_may_split(const struct kvs_arena *a,
			     const struct kvs_req *r)
{
	return r->align > PAGE_SIZE || r->vstart != a->base ||
	       r->vend != a->base + a->size;
}

static int kvs_rb_alloc(struct kvs_arena *a, struct kvs_area *va,
			const struct kvs_req *r)
{
	struct kvs_rb *rb = kvs_rb(a);
	struct kvs_rb_free *f, *spare = NULL;
	unsigned long gs, ge, addr = 0;
	int err = -ENOMEM;

	/* The no-edge split's second block, allocated while we may sleep. */
	if (kvs_rb_may_split(a, r))
		spare = kvs_fault(a, KVS_INJ_RBNODE) ? NULL :
			kmem_cache_alloc(rb->cachep, GFP_KERNEL);

	spin_lock(&rb->lock);
	kvs_count(a, KVS_ST_GAP_SEARCHES);
	f = r->top ? kvs_rb_find_high(rb, r) : kvs_rb_find_low(rb, r);
	if (f) {
		gs = f->start;
		ge = f->end;
		kvs_clip(r, &gs, &ge);
		if (kvs_fit(r, gs, ge, &addr))
			err = kvs_rb_split(rb, f, addr, addr + r->span, &spare);
	}
	if (!err) {
		va->start = addr;
		va->end = addr + r->span;
		kvs_rb_busy_insert(rb, va);
	}
	kvs_rb_count_steps(rb);
	spin_unlock(&rb->lock);

	if (spare)
		kmem_cache_free(rb->cachep, spare);
	return err;
}

static int kvs_rb_unlink(struct kvs_arena *a, struct kvs_area *va)
{
	struct kvs_rb *rb = kvs_rb(a);
	struct kvs_rb_free *prev, *next, *spare;
	int err = 0;

	might_sleep();
	/* A free that touches no free block needs a new one: have it ready. */
	spare = kvs_fault(a, KVS_INJ_RBNODE) ? NULL :
		kmem_cache_alloc(rb->cachep, GFP_KERNEL);

	spin_lock(&rb->lock);
	if (kvs_rb_busy_find(rb, va->start) != va) {
		err = -ENOENT;
		goto unlock;
	}
	prev = kvs_rb_free_below(rb, va->start);
	next = kvs_rb_free_next(rb, prev);
	if (!spare && !(prev && prev->end == va->start) &&
	    !(next && next->start == va->end)) {
		/* Nothing changed yet: the area stays indexed. */
		err = -ENOMEM;
		goto unlock;
	}
	kvs_rb_busy_erase(rb, va);
	kvs_rb_merge(rb, prev, next, va->start, va->end, &spare);
unlock:
	kvs_rb_count_steps(rb);
	spin_unlock(&rb->lock);

	if (spare)
		kmem_cache_free(rb->cachep, spare);
	return err;
}

/*
 * The lock, not RCU, keeps the tree still while it is searched; the
 * caller's RCU read lock keeps the area found valid after it is dropped,
 * since an area is freed only after a grace period once unlinked.
 */
static struct kvs_area *kvs_rb_lookup(struct kvs_arena *a, unsigned long addr)
{
	struct kvs_rb *rb = kvs_rb(a);
	struct kvs_area *va;

	spin_lock(&rb->lock);
	va = kvs_rb_busy_find(rb, addr);
	spin_unlock(&rb->lock);
	return va;
}

static bool kvs_rb_next(struct kvs_arena *a, unsigned long addr,
			struct kvs_area *out)
{
	struct kvs_rb *rb = kvs_rb(a);
	struct kvs_area *va;

	spin_lock(&rb->lock);
	va = kvs_rb_busy_ceil(rb, addr);
	if (va)
		*out = *va;
	spin_unlock(&rb->lock);
	return va;
}

static int kvs_rb_check(struct kvs_arena *a, struct kvs_check *c)
{
	struct kvs_rb *rb = kvs_rb(a);
	unsigned long free_bytes = 0;
	int err;

	spin_lock(&rb->lock);
	err = kvs_rb_check_busy(a, rb, c);
	if (!err)
		err = kvs_rb_check_free(a, rb, c, &free_bytes);
	if (!err)
		err = kvs_rb_check_tiling(a, rb, c, free_bytes);
	spin_unlock(&rb->lock);
	return err;
}

static void kvs_rb_usage(struct kvs_arena *a, struct kvs_usage *u)
{
	struct kvs_rb *rb = kvs_rb(a);

	spin_lock(&rb->lock);
	u->nodes = rb->nr_free + rb->nr_busy;
	/* An area's rb_node lives in its kvs_area, counted by the front end. */
	u->meta_bytes = rb->nr_free * kmem_cache_size(rb->cachep);
	u->largest_hole = kvs_rb_smax(rb->free_root.rb_node);
	spin_unlock(&rb->lock);
}

const struct kvs_backend kvs_be_rbtree = {
	.name	= "rbtree",
	.init	= kvs_rb_init,
	.fini	= kvs_rb_fini,
	.alloc	= kvs_rb_alloc,
	.unlink	= kvs_rb_unlink,
	.lookup	= kvs_rb_lookup,
	.next	= kvs_rb_next,
	.check	= kvs_rb_check,
	.usage	= kvs_rb_usage,
};
