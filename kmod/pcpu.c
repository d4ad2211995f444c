// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: the per-CPU bump overlay (RFC 10/12), with the chunk recycling
 * the RFC left out.
 *
 * Each CPU owns a chunk: one reservation taken from the active backend
 * like any area.  Small, page-aligned, unconstrained requests are served
 * from the chunk's bump pointer with preemption disabled and no lock;
 * everything else, and a request whose chunk cannot be refilled, goes to
 * the backend.
 *
 * A chunk indexes its own areas in a back-pointer array, one slot per
 * page (the RFC's metadata: chunk size / PAGE_SIZE pointers); the slot of
 * an area's first page points at its tracking object.  Lookups find the
 * chunk through the backend's index (the chunk's reservation is a
 * KVS_AF_CHUNK area there) and then the slot, all under RCU.
 *
 * Lifetime: @refs counts the chunk's live areas plus one while it is some
 * CPU's current chunk.  A free drops one; a CPU moving on to a new chunk,
 * or a drain, drops the current reference.  At zero the reservation goes
 * back to the backend and the chunk is freed after a grace period.  The
 * fast path takes its reference with atomic_long_inc_not_zero(), so a
 * chunk that died under it (a drain on another CPU) is never revived.
 *
 * Ownership: the reservation is KVS_OWN_CHUNK for its whole life; only
 * this file unlinks it, and only at zero references.  If the backend
 * cannot shrink its index then (no memory), the chunk stays on the list,
 * "stranded": empty, nobody's current chunk, still indexed, so its range
 * is neither lost nor handed out; every drain tries to give it back
 * again, and the overlay cannot be switched off, nor the backend
 * switched, until it is gone.
 *
 * Locking: the bump pointer is written only by its owner CPU with
 * preemption disabled, which also makes that section an RCU reader, so a
 * chunk seen there stays allocated.  A slot is published with
 * smp_store_release() and claimed by exactly one free with xchg().
 * @lock guards only the list of live chunks (install, release, stats).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "arena.h"
#include "inject.h"
#include "pcpu.h"
#include "trace.h"

/**
 * struct kvs_chunk - one per-CPU chunk.
 * @va:    its reservation in the backend (KVS_AF_CHUNK); va.chunk = this.
 * @bump:  next free address; written by the owner CPU only.
 * @refs:  live areas, plus one while it is a CPU's current chunk.
 * @cpu:   the CPU it was made for.
 * @stranded: its give-back failed; to be retried (guarded by kvs_pcpu::lock).
 * @node:  on kvs_pcpu::chunks.
 * @slots: one per page; an area's first page points at the area.
 */
struct kvs_chunk {
	struct kvs_area va;
	unsigned long bump;
	atomic_long_t refs;
	int cpu;
	bool stranded;
	struct list_head node;
	struct kvs_area __rcu **slots;
};

/**
 * struct kvs_pcpu - the overlay of one arena.
 * @cur:    each CPU's current chunk, or NULL.
 * @size:   bytes per chunk.
 * @lock:   guards @chunks, @nr and each chunk's @stranded.
 * @chunks: every chunk not yet given back.
 * @nr:     how many.
 */
struct kvs_pcpu {
	struct kvs_chunk * __percpu *cur;
	unsigned long size;
	spinlock_t lock;	/* see @lock above */
	struct list_head chunks;
	unsigned long nr;
};

/* === Chunks === */

static void kvs_chunk_free_rcu(struct rcu_head *head)
{
	struct kvs_chunk *c = container_of(head, struct kvs_chunk, va.rcu);

	kvfree(c->slots);
	kfree(c);
}

/* Reserve a new chunk from the backend; NULL if it has no room. */
static struct kvs_chunk *kvs_chunk_new(struct kvs_arena *a)
{
	struct kvs_pcpu *p = a->pcpu;
	struct kvs_req r = {
		.span = p->size, .need = p->size, .align = PAGE_SIZE,
		.vstart = a->base, .vend = a->base + a->size,
	};
	struct kvs_chunk *c;

	c = kvs_fault(a, KVS_INJ_CHUNK) ? NULL : kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return NULL;
	c->slots = kvs_fault(a, KVS_INJ_CHUNK) ? NULL :
		   kvcalloc(p->size >> PAGE_SHIFT, sizeof(*c->slots),
			    GFP_KERNEL);
	if (!c->slots)
		goto free;
	c->va.size = p->size;
	c->va.flags = KVS_AF_CHUNK;
	atomic_set(&c->va.own, KVS_OWN_CHUNK);
	c->va.chunk = c;
	if (a->be->alloc(a, &c->va, &r))
		goto free;
	c->bump = c->va.start;
	c->cpu = raw_smp_processor_id();
	atomic_long_set(&c->refs, 1);
	spin_lock(&p->lock);
	list_add(&c->node, &p->chunks);
	p->nr++;
	spin_unlock(&p->lock);
	kvs_count(a, KVS_ST_PCPU_REFILLS);
	trace_kvashim_chunk_refill(c->cpu, c->va.start, p->size);
	return c;
free:
	kvfree(c->slots);
	kfree(c);
	return NULL;
}

/*
 * Give an unreferenced chunk's reservation back to the backend.  Nothing
 * can reach the chunk any more but RCU readers (which find no area in
 * it), so it is freed after them.  Returns false when the backend could
 * not shrink its index: the chunk is then still indexed and listed.
 */
static bool kvs_chunk_give_back(struct kvs_arena *a, struct kvs_chunk *c)
{
	if (a->be->unlink(a, &c->va))
		return false;
	spin_lock(&a->pcpu->lock);
	list_del(&c->node);
	a->pcpu->nr--;
	spin_unlock(&a->pcpu->lock);
	kvs_count(a, KVS_ST_PCPU_RELEASES);
	trace_kvashim_chunk_release(c->cpu, c->va.start, c->va.size);
	call_rcu(&c->va.rcu, kvs_chunk_free_rcu);
	return true;
}

/* The last reference is gone: give it back, or strand it for a retry. */
static void kvs_chunk_release(struct kvs_arena *a, struct kvs_chunk *c)
{
	kvs_assert_state(a);
	if (kvs_chunk_give_back(a, c))
		return;
	spin_lock(&a->pcpu->lock);
	c->stranded = true;
	spin_unlock(&a->pcpu->lock);
}

/*
 * Try again to give back every stranded chunk.  Each is taken off the
 * list's stranded set under the lock, so two reapers never try the same.
 * Returns how many are still stranded.
 * Context: a->state_sem held; may sleep.
 */
static unsigned long kvs_chunk_reap(struct kvs_arena *a)
{
	struct kvs_pcpu *p = a->pcpu;
	struct kvs_chunk *c, *tmp;
	unsigned long left = 0;
	LIST_HEAD(todo);

	spin_lock(&p->lock);
	list_for_each_entry_safe(c, tmp, &p->chunks, node) {
		if (!c->stranded)
			continue;
		c->stranded = false;
		list_move(&c->node, &todo);
	}
	spin_unlock(&p->lock);

	list_for_each_entry_safe(c, tmp, &todo, node) {
		spin_lock(&p->lock);
		list_move(&c->node, &p->chunks);
		spin_unlock(&p->lock);
		if (!kvs_chunk_give_back(a, c)) {
			spin_lock(&p->lock);
			c->stranded = true;
			spin_unlock(&p->lock);
			left++;
		}
	}
	return left;
}

static void kvs_chunk_put(struct kvs_arena *a, struct kvs_chunk *c)
{
	if (atomic_long_dec_and_test(&c->refs))
		kvs_chunk_release(a, c);
}

/* Is @c some CPU's current chunk?  Exact only while nothing changes. */
static bool kvs_chunk_is_current(struct kvs_pcpu *p, struct kvs_chunk *c)
{
	int cpu;

	for_each_possible_cpu(cpu)
		if (READ_ONCE(*per_cpu_ptr(p->cur, cpu)) == c)
			return true;
	return false;
}

/* === Allocation === */

/**
 * kvs_pcpu_eligible() - may this request take the bump path?
 * @a: the arena.
 * @s: the request as the caller gave it.
 * @span: its reservation, guard page included.
 *
 * Return: true for page-aligned, unconstrained, bottom-up requests of at
 * most half a chunk, when the overlay is on.
 */
bool kvs_pcpu_eligible(struct kvs_arena *a, const struct kvs_spec *s,
		       unsigned long span)
{
	return a->pcpu && s->align <= PAGE_SIZE && !s->vstart && !s->vend &&
	       !s->top && span <= a->pcpu->size / 2;
}

/*
 * Bump @span bytes out of this CPU's chunk and publish @va there.
 * Returns the chunk, or NULL when there is none or it is too full; in
 * the second case *@full holds it (referenced) to be put by the caller.
 */
static struct kvs_chunk *kvs_bump(struct kvs_arena *a, struct kvs_area *va,
				  unsigned long span, struct kvs_chunk **full)
{
	struct kvs_chunk *c;
	unsigned long addr;

	preempt_disable();
	c = READ_ONCE(*this_cpu_ptr(a->pcpu->cur));
	if (!c || !atomic_long_inc_not_zero(&c->refs)) {
		preempt_enable();
		return NULL;
	}
	addr = c->bump;
	if (span > c->va.end - addr) {
		preempt_enable();
		*full = c;
		return NULL;
	}
	c->bump = addr + span;
	va->start = addr;
	va->end = addr + span;
	va->chunk = c;
	va->flags |= KVS_AF_PCPU;
	/* Pairs with rcu_dereference() in the lookups. */
	rcu_assign_pointer(c->slots[(addr - c->va.start) >> PAGE_SHIFT], va);
	preempt_enable();
	return c;
}

/*
 * Make a new chunk this CPU's current one.  The task may have moved to
 * another CPU while the chunk was reserved, or another task on this CPU
 * may have refilled first: then the new chunk is given back.
 */
static void kvs_refill(struct kvs_arena *a, struct kvs_chunk *old)
{
	struct kvs_chunk *c = kvs_chunk_new(a), *prev;

	if (!c)
		return;
	preempt_disable();
	prev = cmpxchg(this_cpu_ptr(a->pcpu->cur), old, c);
	preempt_enable();
	if (prev != old) {
		kvs_chunk_put(a, c);
		return;
	}
	if (old)
		kvs_chunk_put(a, old);	/* its current reference */
}

/**
 * kvs_pcpu_alloc() - serve @va from this CPU's chunk.
 * @a:    the arena, with the overlay on.
 * @va:   the tracking object; start, end, chunk and flags are set.
 * @span: bytes to reserve, guard page included.
 *
 * Context: process context; may sleep to refill.
 * Return: 0, or -ENOMEM when no chunk could serve it: the caller then
 * takes the backend path.
 */
int kvs_pcpu_alloc(struct kvs_arena *a, struct kvs_area *va,
		   unsigned long span)
{
	struct kvs_chunk *full = NULL, *cur;
	int tries;

	might_sleep();
	kvs_assert_state(a);
	for (tries = 0; tries < 3; tries++) {
		if (kvs_bump(a, va, span, &full)) {
			kvs_count(a, KVS_ST_PCPU_HITS);
			return 0;
		}
		if (full) {
			kvs_chunk_put(a, full);
			full = NULL;
		}
		/* The current chunk, full or gone; replace it. */
		cur = READ_ONCE(*raw_cpu_ptr(a->pcpu->cur));
		kvs_refill(a, cur);
	}
	kvs_count(a, KVS_ST_PCPU_MISSES);
	return -ENOMEM;
}

/* === Free and lookup === */

/* The area of @c whose reservation holds @addr, scanning back for interiors. */
static struct kvs_area *kvs_chunk_find(struct kvs_chunk *c,
				       unsigned long addr)
{
	long i = (addr - c->va.start) >> PAGE_SHIFT;
	struct kvs_area *va;

	for (; i >= 0; i--) {
		va = rcu_dereference(c->slots[i]);
		if (!va)
			continue;
		return addr < va->end ? va : NULL;
	}
	return NULL;
}

/**
 * kvs_pcpu_lookup() - the area of a chunk that contains @addr.
 * @chunk: the chunk's reservation, as the backend's lookup found it.
 * @addr:  inside it.
 *
 * Context: rcu_read_lock() held.
 * Return: the area or NULL.
 */
struct kvs_area *kvs_pcpu_lookup(struct kvs_area *chunk, unsigned long addr)
{
	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "chunk lookup outside RCU");
	return kvs_chunk_find(chunk->chunk, addr);
}

/**
 * kvs_pcpu_unlink() - take a chunk's area out of its chunk.
 * @a:  the arena.
 * @va: the area (KVS_AF_PCPU), owned by the caller (KVS_OWN_FREE), so
 *      nobody else clears its slot.
 *
 * Cannot fail: clearing a slot allocates nothing.  The chunk goes back
 * when this was its last reference.
 * Context: a->state_sem held for read; may sleep (the give-back).
 */
void kvs_pcpu_unlink(struct kvs_arena *a, struct kvs_area *va)
{
	struct kvs_chunk *c = va->chunk;
	long i = (va->start - c->va.start) >> PAGE_SHIFT;

	kvs_assert_state(a);
	/* Readers that still find @va see it owned by the free. */
	RCU_INIT_POINTER(c->slots[i], NULL);
	/* @c cannot go before this put: @va holds a reference. */
	kvs_chunk_put(a, c);
}

/**
 * kvs_pcpu_next() - copy the first area of a chunk at or above @addr.
 * @chunk: the chunk's reservation.
 * @addr:  where to start.
 * @out:   the copy.
 *
 * Context: rcu_read_lock() held.
 * Return: whether one was found.
 */
bool kvs_pcpu_next(struct kvs_area *chunk, unsigned long addr,
		   struct kvs_area *out)
{
	struct kvs_chunk *c = chunk->chunk;
	unsigned long i, n = c->va.size >> PAGE_SHIFT;
	struct kvs_area *va;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "chunk walk outside RCU");
	i = addr > c->va.start ? (addr - c->va.start + PAGE_SIZE - 1) >> PAGE_SHIFT : 0;
	for (; i < n; i++) {
		va = rcu_dereference(c->slots[i]);
		if (va) {
			*out = *va;
			return true;
		}
	}
	return false;
}

/**
 * kvs_pcpu_check() - walk a chunk's areas like any others.
 * @a:     the arena.
 * @c:     the walk.
 * @chunk: the chunk's reservation, met in the backend's walk.
 *
 * Areas must lie in the chunk below its bump pointer, in order, and their
 * number plus the current reference must be the chunk's count.
 * Return: 0 or -EUCLEAN with @c->reason set.
 */
int kvs_pcpu_check(struct kvs_arena *a, struct kvs_check *c,
		   const struct kvs_area *chunk)
{
	struct kvs_chunk *ch = chunk->chunk;
	unsigned long i, n = ch->va.size >> PAGE_SHIFT, live = 0;
	unsigned long span = c->span;
	long refs = atomic_long_read(&ch->refs);
	struct kvs_area *va;
	bool is_cur;
	int err;

	if (ch->va.start < c->prev_end) {
		snprintf(c->reason, sizeof(c->reason),
			 "chunk %#lx overlaps the previous area (ends %#lx)",
			 ch->va.start, c->prev_end);
		return -EUCLEAN;
	}
	rcu_read_lock();
	for (i = 0; i < n; i++) {
		va = rcu_dereference(ch->slots[i]);
		if (!va)
			continue;
		if (va->chunk != ch || va->end > ch->bump) {
			snprintf(c->reason, sizeof(c->reason),
				 "chunk %#lx holds area %#lx beyond its bump %#lx",
				 ch->va.start, va->start, ch->bump);
			rcu_read_unlock();
			return -EUCLEAN;
		}
		err = kvs_check_area(a, c, va);
		if (err) {
			rcu_read_unlock();
			return err;
		}
		live++;
	}
	rcu_read_unlock();
	is_cur = kvs_chunk_is_current(a->pcpu, ch);
	if (refs != live + is_cur) {
		snprintf(c->reason, sizeof(c->reason),
			 "chunk %#lx counts %ld references, holds %lu areas%s",
			 ch->va.start, refs, live,
			 is_cur ? " and is current" : "");
		return -EUCLEAN;
	}
	/* The backend sees the whole chunk as used space. */
	c->span = span + ch->va.size;
	c->prev_end = ch->va.end;
	return 0;
}

/* === Set-up, drain, statistics === */

/**
 * kvs_pcpu_drain() - drop every CPU's current chunk.
 * @a: the arena.
 *
 * Chunks with live areas stay until those are freed; empty ones go back
 * to the backend now, stranded ones included.  After a "free all", no
 * chunk remains unless the backend lacked memory to take one back.
 * Context: a->state_sem held; may sleep.
 * Return: chunks still stranded.
 */
unsigned long kvs_pcpu_drain(struct kvs_arena *a)
{
	struct kvs_chunk *c;
	int cpu;

	if (!a->pcpu)
		return 0;
	kvs_assert_state(a);
	for_each_possible_cpu(cpu) {
		c = xchg(per_cpu_ptr(a->pcpu->cur, cpu), NULL);
		if (c)
			kvs_chunk_put(a, c);
	}
	return kvs_chunk_reap(a);
}

/**
 * kvs_pcpu_start() - switch the overlay on.
 * @a:     the arena, with a->state_sem held for write.
 * @chunk: bytes per chunk; clamped to an eighth of the arena.
 *
 * Return: 0 or -ENOMEM.
 */
int kvs_pcpu_start(struct kvs_arena *a, unsigned long chunk)
{
	struct kvs_pcpu *p;

	if (a->pcpu)
		return 0;
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	p->cur = alloc_percpu(struct kvs_chunk *);
	if (!p->cur) {
		kfree(p);
		return -ENOMEM;
	}
	p->size = max(PAGE_ALIGN(min(chunk, a->size / 8)), 16 * PAGE_SIZE);
	spin_lock_init(&p->lock);
	INIT_LIST_HEAD(&p->chunks);
	a->pcpu = p;
	return 0;
}

/**
 * kvs_pcpu_stop() - switch the overlay off.
 * @a: the arena, with a->state_sem held for write and no live area in a
 *     chunk (the caller checks); every chunk goes back.
 *
 * Return: 0, -ENOMEM if an empty chunk could not be given back (it stays
 * indexed; try again), or -EBUSY if chunks still hold live areas.
 */
int kvs_pcpu_stop(struct kvs_arena *a)
{
	struct kvs_pcpu *p = a->pcpu;

	if (!p)
		return 0;
	if (kvs_pcpu_drain(a))
		return -ENOMEM;
	if (p->nr)
		return -EBUSY;
	a->pcpu = NULL;
	free_percpu(p->cur);
	kfree(p);
	return 0;
}

/**
 * kvs_pcpu_chunks() - chunks not yet given back.
 * @a: the arena.
 *
 * Return: their number; 0 when the overlay is off.
 */
unsigned long kvs_pcpu_chunks(struct kvs_arena *a)
{
	return a->pcpu ? READ_ONCE(a->pcpu->nr) : 0;
}

/**
 * kvs_pcpu_show() - the overlay's lines of the stats file.
 * @a: the arena.
 * @m: the stats file.
 */
void kvs_pcpu_show(struct kvs_arena *a, struct seq_file *m)
{
	struct kvs_pcpu *p = a->pcpu;
	unsigned long nr = 0, stranded = 0, size = 0;
	struct kvs_chunk *c;

	if (p) {
		size = p->size;
		spin_lock(&p->lock);
		list_for_each_entry(c, &p->chunks, node) {
			nr++;
			if (!kvs_chunk_is_current(p, c))
				stranded += c->va.end - READ_ONCE(c->bump);
		}
		spin_unlock(&p->lock);
	}
	seq_printf(m, "pcpu %d\n", !!p);
	seq_printf(m, "pcpu_chunk_size %lu\n", size);
	seq_printf(m, "pcpu_chunks_live %lu\n", nr);
	seq_printf(m, "pcpu_stranded_bytes %lu\n", stranded);
}

/**
 * kvs_pcpu_chunks_show() - the chunks file: one line per chunk.
 * @a: the arena.
 * @m: the chunks file.
 *
 * "start-end bytes cpu=N bumped=BYTES areas=N STATE": the reservation, the
 * CPU it was made for, the bytes its bump pointer has handed out, the
 * live areas it serves, and "current" (some CPU's current chunk),
 * "retired" (another has replaced it; it lives on until its areas are
 * freed) or "stranded" (empty, its give-back failed; retried by every
 * drain).  Newest first; nothing while the overlay is off.  A snapshot of
 * each chunk, not of the whole list: the bump pointers move meanwhile.
 *
 * Context: takes a->state_sem for read (a->pcpu stays) and the overlay's
 * list lock, under which nothing here sleeps.
 */
void kvs_pcpu_chunks_show(struct kvs_arena *a, struct seq_file *m)
{
	struct kvs_chunk *c;
	struct kvs_pcpu *p;
	bool cur;
	long refs;

	percpu_down_read(&a->state_sem);
	p = a->pcpu;
	if (p) {
		spin_lock(&p->lock);
		list_for_each_entry(c, &p->chunks, node) {
			cur = kvs_chunk_is_current(p, c);
			refs = atomic_long_read(&c->refs) - cur;
			seq_printf(m, "0x%lx-0x%lx %10lu cpu=%d bumped=%lu areas=%ld %s\n",
				   c->va.start, c->va.end, c->va.size, c->cpu,
				   READ_ONCE(c->bump) - c->va.start,
				   max(refs, 0L),
				   cur ? "current" :
				   c->stranded ? "stranded" : "retired");
		}
		spin_unlock(&p->lock);
	}
	percpu_up_read(&a->state_sem);
}
