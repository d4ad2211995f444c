// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: the benchmark suite.
 *
 * The workloads of the kernel's lib/test_vmalloc.c, plus the two loops of
 * the 2018 free-block-tracking RFC, run on every backend and on the
 * running kernel's own allocator, in one run, from one command.  Each
 * backend gets a fresh private arena over the live arena's range for
 * every repetition (the backends never touch the memory they place, so
 * this does not disturb the live arena); the kernel target calls
 * get_vm_area() and free_vm_area(), which include the kernel's global
 * vmap locks, its lazy purge and the TLB flushes that purge issues.
 *
 * Each workload runs on kthreads bound one per CPU, released together
 * after their setup; every timed iteration goes into a log-linear
 * histogram.  A warm-up of a tenth of the loops is not recorded.  Times
 * are medians over the repetitions, with their spread; beside them are
 * counters that do not depend on the machine's speed: index operations
 * per iteration and metadata bytes per live area.
 *
 * With "background=N", N areas of a size mix stay live in the target
 * around the timed loops (the fresh arena is otherwise empty), with a
 * quarter of them freed again to leave holes.  With "background=layout"
 * the areas are those of the layout loaded through bench_layout (a real
 * machine's /proc/vmallocinfo, say), each placed at its offset in every
 * backend's arena (layout.c); the kernel's allocator, which cannot place
 * an area at a given address, gets its sizes and gaps in order instead.
 *
 * With "populate" every area is backed with pages and freed through the
 * lazy purge, each backend's arena then owning a reservation of its own
 * (pages cannot share page tables with the live arena's), and the kernel
 * target becomes vmalloc() and vfree(), which do the same work.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/prandom.h>
#include <linux/rcupdate.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>

#include "arena.h"
#include "bench.h"
#include "ksym.h"
#include "layout.h"
#include "pcpu.h"

/* === Targets === */

/* The backends first (kvs_backends[]), maple with the overlay, the kernel. */
#define KVS_T_PCPU	KVS_NR_BACKENDS
#define KVS_T_KERNEL	(KVS_NR_BACKENDS + 1)
#define KVS_NR_TARGETS	(KVS_NR_BACKENDS + 2)

static const char *kvs_target_name(int t)
{
	if (t == KVS_T_PCPU)
		return "maple+pcpu";
	return t == KVS_T_KERNEL ? "kernel" : kvs_backends[t]->name;
}

/* As results name it: the kernel target of a populated run is vmalloc. */
static const char *kvs_result_target(int t, bool populate)
{
	return t == KVS_T_KERNEL && populate ? "vmalloc" : kvs_target_name(t);
}

/**
 * struct kvs_target - what a workload allocates from.
 * @id:       index into the targets (kvs_target_name()).
 * @a:        a backend's private arena; NULL for the kernel's allocator.
 * @populate: back every area with pages (kernel: vmalloc()/vfree()).
 */
struct kvs_target {
	int id;
	struct kvs_arena *a;
	bool populate;
};

static int kvs_t_alloc(struct kvs_target *t, unsigned long size,
		       unsigned long align, unsigned long *h)
{
	struct kvs_spec s = {
		.size = size, .align = align, .populate = t->populate,
	};
	struct vm_struct *vm;
	void *p;

	if (t->a)
		return kvs_alloc(t->a, &s, h, NULL);
	if (t->populate) {
		p = vmalloc(size);
		*h = (unsigned long)p;
		return p ? 0 : -ENOMEM;
	}
	vm = kvs_ksym.get_vm_area(size, 0);
	if (!vm)
		return -ENOMEM;
	*h = (unsigned long)vm;
	return 0;
}

static void kvs_t_free(struct kvs_target *t, unsigned long h)
{
	if (t->a)
		kvs_free(t->a, h, NULL);
	else if (t->populate)
		vfree((void *)h);
	else
		free_vm_area((struct vm_struct *)h);
}

/* === Histograms === */

/*
 * Log-linear: values below 8 get a bucket each; above, each power of two
 * is split in 8, so a bucket is within 12.5% of its values.
 */
#define KVS_HSUB	8
#define KVS_HBUCKETS	(64 * KVS_HSUB)

struct kvs_hist {
	u32 n[KVS_HBUCKETS];
	u64 count;
	u64 sum;
	u64 max;
};

static unsigned int kvs_hidx(u64 v)
{
	unsigned int msb;

	if (v < KVS_HSUB)
		return v;
	msb = fls64(v) - 1;
	return (msb - 2) * KVS_HSUB + ((v >> (msb - 3)) & (KVS_HSUB - 1));
}

static u64 kvs_hlow(unsigned int idx)
{
	if (idx < KVS_HSUB)
		return idx;
	return (u64)(KVS_HSUB + idx % KVS_HSUB) << (idx / KVS_HSUB - 1);
}

static void kvs_hadd(struct kvs_hist *h, u64 v)
{
	h->n[kvs_hidx(v)]++;
	h->count++;
	h->sum += v;
	h->max = max(h->max, v);
}

static void kvs_hmerge(struct kvs_hist *to, const struct kvs_hist *from)
{
	int i;

	for (i = 0; i < KVS_HBUCKETS; i++)
		to->n[i] += from->n[i];
	to->count += from->count;
	to->sum += from->sum;
	to->max = max(to->max, from->max);
}

/* The lower bound of the bucket holding the @pct-th percentile. */
static u64 kvs_hpct(const struct kvs_hist *h, unsigned int pct)
{
	u64 want = div_u64(h->count * pct + 99, 100), seen = 0;
	int i;

	for (i = 0; i < KVS_HBUCKETS; i++) {
		seen += h->n[i];
		if (seen >= want && seen)
			return kvs_hlow(i);
	}
	return h->max;
}

/* === Workloads === */

struct kvs_run;

/* Areas in flight between the threads of the cross-CPU workload. */
#define KVS_RING	64

/**
 * struct kvs_bthread - one benchmark kthread.
 * @run:     the run it belongs to.
 * @task:    the kthread, bound to @cpu.
 * @cpu:     its CPU.
 * @hist:    times of its iterations, ns.
 * @iters:   timed iterations done.
 * @fails:   iterations whose allocation failed.
 * @busy:    handles of the areas its setup keeps live.
 * @nr_busy: how many.
 * @rnd:     its random state, seeded from the run's seed and @cpu.
 * @capped:  stopped by the time budget.
 */
struct kvs_bthread {
	struct kvs_run *run;
	struct task_struct *task;
	int cpu;
	struct kvs_hist hist;
	unsigned long iters;
	unsigned long fails;
	unsigned long *busy;
	unsigned long nr_busy;
	struct rnd_state rnd;
	bool capped;
};

/**
 * struct kvs_workload - one test_vmalloc-style workload.
 * @name:    as in lib/test_vmalloc.c, or the seed's name.
 * @setup:   make the areas the loop runs against (may be NULL).
 * @iter:    one timed iteration; 0 or the allocation's errno.
 * @aligned: asks for alignments; the kernel's get_vm_area() has none.
 * @xfail:   failures are part of the workload, not counted.
 * @arena:   needs kvashim's lookups: no kernel target.
 */
struct kvs_workload {
	const char *name;
	int (*setup)(struct kvs_bthread *th);
	int (*iter)(struct kvs_bthread *th);
	bool aligned;
	bool xfail;
	bool arena;
};

/**
 * struct kvs_run - one (workload, target, threads) repetition.
 * @o:        the command's options.
 * @wl:       the workload.
 * @t:        the target.
 * @nr:       threads.
 * @deadline: local_clock() at which the budget runs out.
 * @ready:    threads still in setup.
 * @running:  threads still running.
 * @all_ready: completed when @ready drops to 0.
 * @go:       released when all are ready: timing starts together.
 * @all_done: completed when @running drops to 0: timing ends.
 * @release:  released after the measurement: threads tear down.
 * @left:     threads still tearing down.
 * @all_gone: completed when @left drops to 0: they only wait to stop.
 * @ring_lock: guards @ring.
 * @ring:     areas handed between threads by the cross-CPU workload.
 * @head:     oldest entry of @ring.
 * @count:    entries in @ring.
 * @bg:       handles of the background areas.
 * @nr_bg:    how many are live.
 * @th:       the threads.
 */
struct kvs_run {
	const struct kvs_bench_opts *o;
	const struct kvs_workload *wl;
	struct kvs_target t;
	unsigned int nr;
	u64 deadline;
	atomic_t ready;
	atomic_t running;
	struct completion all_ready;
	struct completion go;
	struct completion all_done;
	struct completion release;
	atomic_t left;
	struct completion all_gone;
	spinlock_t ring_lock;	/* see @ring_lock above */
	unsigned long ring[KVS_RING];
	unsigned int head;
	unsigned int count;
	unsigned long *bg;
	unsigned long nr_bg;
	struct kvs_bthread th[];
};

static bool kvs_over_budget(struct kvs_bthread *th)
{
	if (local_clock() < READ_ONCE(th->run->deadline))
		return false;
	th->capped = true;
	return true;
}

static u32 kvs_brand(struct kvs_bthread *th, u32 n)
{
	return prandom_u32_state(&th->rnd) % n;
}

static int kvs_pair(struct kvs_bthread *th, unsigned long size,
		    unsigned long align)
{
	unsigned long h;
	int err;

	err = kvs_t_alloc(&th->run->t, size, align, &h);
	if (!err)
		kvs_t_free(&th->run->t, h);
	return err;
}

/* Keep @n one-page areas live for the whole run. */
static int kvs_setup_busy(struct kvs_bthread *th, unsigned long n)
{
	th->busy = kvmalloc_array(n, sizeof(*th->busy), GFP_KERNEL);
	if (!th->busy)
		return -ENOMEM;
	while (th->nr_busy < n) {
		if (kvs_t_alloc(&th->run->t, PAGE_SIZE, 0,
				&th->busy[th->nr_busy]))
			break;
		th->nr_busy++;
		if (!(th->nr_busy % 256) && kvs_over_budget(th))
			break;
	}
	return 0;
}

static void kvs_teardown_busy(struct kvs_bthread *th)
{
	while (th->nr_busy)
		kvs_t_free(&th->run->t, th->busy[--th->nr_busy]);
	kvfree(th->busy);
	th->busy = NULL;
}

/* full_fit: busy pairs, then every other one freed: one-page holes. */
static int kvs_setup_full_fit(struct kvs_bthread *th)
{
	unsigned long i, kept = 0;
	int err;

	err = kvs_setup_busy(th, 2 * th->run->o->busy);
	if (err)
		return err;
	for (i = 0; i < th->nr_busy; i++) {
		if (i & 1)
			kvs_t_free(&th->run->t, th->busy[i]);
		else
			th->busy[kept++] = th->busy[i];
	}
	th->nr_busy = kept;
	return 0;
}

static int kvs_setup_long_busy(struct kvs_bthread *th)
{
	return kvs_setup_busy(th, th->run->o->busy);
}

static int kvs_iter_fix_size(struct kvs_bthread *th)
{
	return kvs_pair(th, PAGE_SIZE, 0);
}

/* The two larger fixed sizes of the populated comparison with vmalloc. */
static int kvs_iter_fix_16(struct kvs_bthread *th)
{
	return kvs_pair(th, 16 * PAGE_SIZE, 0);
}

static int kvs_iter_fix_100(struct kvs_bthread *th)
{
	return kvs_pair(th, 100 * PAGE_SIZE, 0);
}

static int kvs_iter_long_busy(struct kvs_bthread *th)
{
	unsigned long big, small;
	int err;

	err = kvs_t_alloc(&th->run->t, 100 * PAGE_SIZE, 0, &big);
	if (err)
		return err;
	err = kvs_t_alloc(&th->run->t, PAGE_SIZE, 0, &small);
	if (!err)
		kvs_t_free(&th->run->t, small);
	kvs_t_free(&th->run->t, big);
	return err;
}

static int kvs_iter_random_size(struct kvs_bthread *th)
{
	return kvs_pair(th, (kvs_brand(th, 100) + 1) * PAGE_SIZE, 0);
}

/* test_vmalloc: 5 pages aligned to THREAD_ALIGN << 1 (32 KiB on x86_64). */
static int kvs_iter_fix_align(struct kvs_bthread *th)
{
	return kvs_pair(th, 5 * PAGE_SIZE, THREAD_SIZE << 1);
}

static int kvs_iter_random_align(struct kvs_bthread *th)
{
	u32 r = kvs_brand(th, 256);

	return kvs_pair(th, (r % 10 + 1) * PAGE_SIZE, 1UL << (r % 23));
}

/* Every alignment up to 2^63: the large ones are meant to fail. */
static int kvs_iter_align_shift(struct kvs_bthread *th)
{
	int i;

	for (i = 0; i < BITS_PER_LONG; i++)
		kvs_pair(th, PAGE_SIZE, 1UL << i);
	return 0;
}

/* The 2018 RFC's test_1: a 3-page alloc/free loop. */
static int kvs_iter_seed_test1(struct kvs_bthread *th)
{
	return kvs_pair(th, 3 * PAGE_SIZE, 0);
}

/*
 * Cross-CPU storm: each iteration allocates an area and queues it, frees
 * the oldest queued one (most often another CPU's), and looks up a random
 * queued address that another thread may be freeing at that moment.  Run
 * with the overlay, frees land on chunks owned by other CPUs.
 */
static int kvs_iter_xcpu(struct kvs_bthread *th)
{
	struct kvs_run *run = th->run;
	unsigned long h, victim = 0, probe = 0;
	struct kvs_area found;
	int err;

	err = kvs_t_alloc(&run->t, (kvs_brand(th, 4) + 1) * PAGE_SIZE, 0, &h);
	spin_lock(&run->ring_lock);
	if (!err) {
		if (run->count == KVS_RING) {
			victim = run->ring[run->head];
			run->head = (run->head + 1) % KVS_RING;
			run->count--;
		}
		run->ring[(run->head + run->count++) % KVS_RING] = h;
	}
	if (run->count)
		probe = run->ring[(run->head + kvs_brand(th, run->count)) % KVS_RING];
	spin_unlock(&run->ring_lock);
	if (probe)
		kvs_find(run->t.a, probe + PAGE_SIZE / 2, &found);
	if (victim)
		kvs_t_free(&run->t, victim);
	return err;
}

/* Free what the storm left queued, once every thread has stopped. */
static void kvs_ring_drain(struct kvs_run *run)
{
	while (run->count) {
		kvs_t_free(&run->t, run->ring[run->head]);
		run->head = (run->head + 1) % KVS_RING;
		run->count--;
	}
}

/* === Background occupancy === */

/*
 * Pages of one background area: mostly small ones, as in a running
 * system's vmalloc space (4-page stacks; modules and buffers of tens to
 * hundreds of pages).  About 16 pages on average.
 */
static unsigned long kvs_bg_pages(struct rnd_state *rnd)
{
	u32 r = prandom_u32_state(rnd) % 100;
	u32 x = prandom_u32_state(rnd);

	if (r < 40)
		return 1;
	if (r < 70)
		return 4;
	if (r < 90)
		return 2 + x % 15;
	if (r < 98)
		return 17 + x % 112;
	return 129 + x % 384;
}

/*
 * The kernel's allocator takes no address: the layout is laid down in
 * order instead, each gap held by a filler of exactly its size (no guard
 * page) while the areas are placed, and the fillers freed, and purged, at
 * the end.  Its first fit puts the first pieces in the guest's own holes,
 * the rest after its own areas: the layout's sizes and gaps, not its
 * addresses.
 */
static int kvs_bg_layout_kernel(struct kvs_run *run)
{
	const struct kvs_layout *l = run->o->lay;
	unsigned long i, prev = 0, gap, nr_fill = 0;
	struct vm_struct **fill, *vm;
	int err = 0;

	run->bg = kvmalloc_array(l->n, sizeof(*run->bg), GFP_KERNEL);
	fill = kvmalloc_array(l->n, sizeof(*fill), GFP_KERNEL);
	if (!run->bg || !fill) {
		kvfree(fill);
		return -ENOMEM;
	}
	for (i = 0; i < l->n && !err; i++) {
		gap = l->e[i].off - prev;
		prev = l->e[i].off + l->e[i].size;
		if (gap) {
			vm = kvs_ksym.get_vm_area(gap, VM_NO_GUARD);
			if (!vm)
				break;
			fill[nr_fill++] = vm;
		}
		vm = kvs_ksym.get_vm_area(l->e[i].size - PAGE_SIZE, 0);
		if (!vm)
			break;
		run->bg[run->nr_bg++] = (unsigned long)vm;
		if (!(i % 256))
			cond_resched();
	}
	if (run->nr_bg < l->n) {
		pr_warn("bench: layout area %lu: get_vm_area() failed\n", i);
		err = -ENOMEM;
	}
	while (nr_fill)
		free_vm_area(fill[--nr_fill]);
	kvfree(fill);
	/* The fillers' ranges free now, not in the timed part's purge. */
	vm_unmap_aliases();
	return err;
}

/*
 * Place the layout's areas in @run's arena, each in a window of exactly
 * its reservation: its size less the guard page, which the arena adds.
 * The arena is fresh and the layout's areas never overlap, so each one
 * lands at its offset; one that does not is a bug, and ends the run.
 */
static int kvs_bg_layout(struct kvs_run *run)
{
	const struct kvs_layout *l = run->o->lay;
	struct kvs_arena *a = run->t.a;
	struct kvs_err why = {};
	struct kvs_spec s = {};
	unsigned long i;
	int err;

	if (!a)
		return kvs_bg_layout_kernel(run);
	run->bg = kvmalloc_array(l->n, sizeof(*run->bg), GFP_KERNEL);
	if (!run->bg)
		return -ENOMEM;
	for (i = 0; i < l->n; i++) {
		s.size = l->e[i].size - PAGE_SIZE;
		s.vstart = a->base + l->e[i].off;
		s.vend = s.vstart + l->e[i].size;
		err = kvs_alloc(a, &s, &run->bg[run->nr_bg], &why);
		if (err) {
			pr_warn("bench: layout area %lu (+%#lx, %lu bytes) on %s: %s\n",
				i, l->e[i].off, l->e[i].size, a->be->name,
				why.msg);
			return err;
		}
		run->nr_bg++;
		if (!(run->nr_bg % 256))
			cond_resched();
	}
	return 0;
}

/*
 * Allocate the background areas of @run in its target, never populated
 * (the kernel target: get_vm_area()), then free about a quarter of them
 * at random, so that the rest stand between holes.  An allocation that
 * fails ends the fill: fewer areas than asked.
 */
static int kvs_bg_fill(struct kvs_run *run)
{
	struct kvs_target t = run->t;
	unsigned long n = run->o->background, i, got = 0;
	struct rnd_state rnd;

	if (run->o->lay)
		return kvs_bg_layout(run);
	if (!n)
		return 0;
	run->bg = kvmalloc_array(n, sizeof(*run->bg), GFP_KERNEL);
	if (!run->bg)
		return -ENOMEM;
	t.populate = false;
	prandom_seed_state(&rnd, run->o->seed ^ 0x6267);
	for (i = 0; i < n; i++) {
		if (kvs_t_alloc(&t, kvs_bg_pages(&rnd) << PAGE_SHIFT, 0,
				&run->bg[got]))
			break;
		got++;
		if (!(got % 256))
			cond_resched();
	}
	for (i = 0; i < got; i++) {
		if (prandom_u32_state(&rnd) % 4)
			run->bg[run->nr_bg++] = run->bg[i];
		else
			kvs_t_free(&t, run->bg[i]);
	}
	return 0;
}

static void kvs_bg_free(struct kvs_run *run)
{
	struct kvs_target t = run->t;

	t.populate = false;
	while (run->nr_bg)
		kvs_t_free(&t, run->bg[--run->nr_bg]);
	kvfree(run->bg);
	run->bg = NULL;
}

static const struct kvs_workload kvs_workloads[] = {
	{ "fix_size_alloc", NULL, kvs_iter_fix_size },
	{ "full_fit_alloc", kvs_setup_full_fit, kvs_iter_fix_size },
	{ "long_busy_list_alloc", kvs_setup_long_busy, kvs_iter_long_busy },
	{ "random_size_alloc", NULL, kvs_iter_random_size },
	{ "fix_align_alloc", NULL, kvs_iter_fix_align, true },
	{ "random_size_align_alloc", NULL, kvs_iter_random_align, true },
	{ "align_shift_alloc", NULL, kvs_iter_align_shift, true, true },
	{ "seed_test1_3page", NULL, kvs_iter_seed_test1 },
	{ "xcpu_storm", NULL, kvs_iter_xcpu, .arena = true },
	{ "fix_16page_alloc", NULL, kvs_iter_fix_16 },
	{ "fix_100page_alloc", NULL, kvs_iter_fix_100 },
};

/* === Running === */

/* A tenth of the loops, untimed, before the threads start together. */
static void kvs_bthread_warm(struct kvs_bthread *th)
{
	unsigned long warm = th->run->o->loops / 10, i;

	for (i = 0; i < warm && !kvs_over_budget(th); i++)
		th->run->wl->iter(th);
}

static void kvs_bthread_loop(struct kvs_bthread *th)
{
	const struct kvs_workload *wl = th->run->wl;
	unsigned long i;
	u64 t0;
	int err;

	for (i = 0; i < th->run->o->loops; i++) {
		t0 = local_clock();
		err = wl->iter(th);
		kvs_hadd(&th->hist, local_clock() - t0);
		th->iters++;
		if (err && !wl->xfail)
			th->fails++;
		if (!(i % 64) && kvs_over_budget(th))
			break;
		cond_resched();
	}
}

/*
 * A thread waits for the others as long as the budget lets them run, which
 * may be longer than the hung-task timeout: TASK_IDLE, which the detector
 * skips and which cannot be cut short (a kthread takes no signals anyway).
 */
static void kvs_bthread_wait(struct completion *c)
{
	wait_for_completion_state(c, TASK_IDLE);
}

static int kvs_bthread_fn(void *data)
{
	struct kvs_bthread *th = data;
	struct kvs_run *run = th->run;

	prandom_seed_state(&th->rnd, run->o->seed + th->cpu);
	if (run->wl->setup)
		run->wl->setup(th);
	kvs_bthread_warm(th);
	if (atomic_dec_and_test(&run->ready))
		complete(&run->all_ready);
	kvs_bthread_wait(&run->go);

	kvs_bthread_loop(th);
	if (atomic_dec_and_test(&run->running))
		complete(&run->all_done);
	kvs_bthread_wait(&run->release);
	kvs_teardown_busy(th);
	if (atomic_dec_and_test(&run->left))
		complete(&run->all_gone);

	/* Stay until kthread_stop(): the run reads the results first. */
	set_current_state(TASK_INTERRUPTIBLE);
	while (!kthread_should_stop()) {
		schedule();
		set_current_state(TASK_INTERRUPTIBLE);
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

/* Start @run->nr threads on the first online CPUs. */
static int kvs_run_start(struct kvs_run *run)
{
	struct kvs_bthread *th;
	unsigned int i = 0;
	int cpu;

	for_each_online_cpu(cpu) {
		if (i == run->nr)
			break;
		th = &run->th[i];
		th->run = run;
		th->cpu = cpu;
		th->task = kthread_create_on_cpu(kvs_bthread_fn, th, cpu,
						 "kvs_bench/%u");
		if (IS_ERR(th->task)) {
			th->task = NULL;
			return -ENOMEM;
		}
		i++;
	}
	return i == run->nr ? 0 : -EINVAL;
}

/**
 * struct kvs_sample - what one repetition measured.
 * @hist:     every timed iteration.
 * @wall_ns:  from the common start to the last thread's end.
 * @iters:    iterations, all threads.
 * @fails:    failed iterations.
 * @idx_ops:  index operations during the timed part (tree work).
 * @aug:      rb-tree augment propagation steps.
 * @walked:   list nodes walked.
 * @live:     live areas the threads set up for the timed part.
 * @bg:       background areas live then.
 * @st:       each of the target arena's counters (enum kvs_stat) over the
 *            timed part: what the iterations did inside the allocator.
 * @meta:     index and tracking-object bytes then (backends only).
 * @capped:   a thread hit the budget.
 * @bad:      "check" failed after the timed part.
 * @chunks:   per-CPU chunks left after everything was freed.
 */
struct kvs_sample {
	struct kvs_hist hist;
	u64 wall_ns;
	unsigned long iters;
	unsigned long fails;
	unsigned long idx_ops;
	unsigned long aug;
	unsigned long walked;
	unsigned long live;
	unsigned long bg;
	unsigned long meta;
	bool capped;
	bool bad;
	unsigned long chunks;
	unsigned long st[KVS_NR_STATS];
};

static const enum kvs_stat kvs_idx_stats[] = {
	KVS_ST_GAP_SEARCHES, KVS_ST_MT_STORES, KVS_ST_MT_ERASES,
	KVS_ST_MT_WALKS, KVS_ST_RB_INSERTS, KVS_ST_RB_ERASES,
};

static unsigned long kvs_idx_ops(struct kvs_arena *a)
{
	unsigned long n = 0;
	int i;

	for (i = 0; i < ARRAY_SIZE(kvs_idx_stats); i++)
		n += kvs_stat_sum(a, kvs_idx_stats[i]);
	return n;
}

/*
 * Wait for the threads to reach @done: as long as the budget, so killable,
 * never a hung task.  A fatal signal (the writer killed, e.g. to unload the
 * module) ends the run early: the threads find the budget spent at their
 * next check, within 64 iterations.  They use the run's memory, so the
 * dying writer still waits for them, idle: their teardown of the busy
 * areas may outlast the hung-task timeout too.
 */
static void kvs_run_wait(struct kvs_run *run, struct completion *done)
{
	if (wait_for_completion_killable(done)) {
		WRITE_ONCE(run->deadline, 0);
		wait_for_completion_state(done, TASK_IDLE);
	}
}

/* Release the threads together and collect what they measured. */
static void kvs_run_measure(struct kvs_run *run, struct kvs_sample *s)
{
	struct kvs_arena *a = run->t.a;
	unsigned long idx = 0, aug = 0, walked = 0;
	struct kvs_usage u;
	unsigned int i;
	u64 t0;

	kvs_run_wait(run, &run->all_ready);
	/*
	 * The setup's and the warm-up's RCU callbacks (tracking objects,
	 * maple nodes: thousands after a busy setup) run before the clock
	 * starts, not in the timed loop as many as the grace period's phase
	 * happens to allow: that phase follows the host's I/O timing, and
	 * would move even instruction counts from run to run.
	 */
	rcu_barrier();
	for (i = 0; i < run->nr; i++)
		s->live += run->th[i].nr_busy;
	s->bg = run->nr_bg;
	if (a) {
		kvs_usage(a, &u);
		s->meta = u.meta_bytes + kvs_live(a) * kvs_area_bytes();
		idx = kvs_idx_ops(a);
		aug = kvs_stat_sum(a, KVS_ST_RB_AUGMENT);
		walked = kvs_stat_sum(a, KVS_ST_LIST_WALKED);
		for (i = 0; i < KVS_NR_STATS; i++)
			s->st[i] = kvs_stat_sum(a, i);
	}
	t0 = local_clock();
	complete_all(&run->go);
	kvs_run_wait(run, &run->all_done);
	s->wall_ns = local_clock() - t0;
	if (a) {
		s->idx_ops = kvs_idx_ops(a) - idx;
		s->aug = kvs_stat_sum(a, KVS_ST_RB_AUGMENT) - aug;
		s->walked = kvs_stat_sum(a, KVS_ST_LIST_WALKED) - walked;
		for (i = 0; i < KVS_NR_STATS; i++)
			s->st[i] = kvs_stat_sum(a, i) - s->st[i];
	}
	for (i = 0; i < run->nr; i++) {
		kvs_hmerge(&s->hist, &run->th[i].hist);
		s->iters += run->th[i].iters;
		s->fails += run->th[i].fails;
		s->capped |= run->th[i].capped;
	}
	/* Every run ends with the index checked, as test_vmalloc's stress. */
	if (a && kvs_check(a, NULL))
		s->bad = true;
	complete_all(&run->release);
}

static void kvs_run_stop(struct kvs_run *run)
{
	unsigned int i;

	for (i = 0; i < run->nr; i++)
		if (run->th[i].task)
			kthread_stop(run->th[i].task);
}

/*
 * A populated arena maps pages, so it needs a range nobody else maps in:
 * a reservation of its own, as large as the live arena's up to 4 GiB.
 */
#define KVS_BENCH_POP_RANGE	(4UL << 30)

static int kvs_target_range(struct kvs_arena *a, struct kvs_arena *live,
			    bool populate)
{
	if (!populate) {
		a->base = live->base;
		a->size = live->size;
		return 0;
	}
	a->size = min(live->size, KVS_BENCH_POP_RANGE);
	a->vm = kvs_ksym.get_vm_area(a->size, 0);
	if (!a->vm)
		return -ENOMEM;
	a->base = (unsigned long)a->vm->addr;
	return 0;
}

/* A fresh private arena over the live arena's range, or its own. */
static int kvs_target_get(struct kvs_target *t, int id,
			  struct kvs_arena *live, bool populate)
{
	struct kvs_arena *a;

	t->id = id;
	t->a = NULL;
	t->populate = populate;
	if (id == KVS_T_KERNEL)
		return 0;
	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	if (kvs_target_range(a, live, populate))
		goto free;
	if (id == KVS_T_PCPU) {
		a->chunk_size = KVS_CHUNK_DEFAULT;
		id = 0;
	}
	if (kvs_arena_create(a, kvs_backends[id], true))
		goto unreserve;
	t->a = a;
	return 0;

unreserve:
	if (a->vm)
		free_vm_area(a->vm);
free:
	kfree(a);
	return -ENOMEM;
}

static void kvs_target_put(struct kvs_target *t)
{
	if (!t->a)
		return;
	/* Purges too: nothing stays mapped in the range given back. */
	kvs_arena_destroy(t->a);
	if (t->a->vm)
		free_vm_area(t->a->vm);
	kfree(t->a);
	t->a = NULL;
}

/* One repetition of @wl on target @id with @nr threads. */
static int kvs_run_once(struct kvs_arena *live,
			const struct kvs_bench_opts *o,
			const struct kvs_workload *wl, int id,
			unsigned int nr, struct kvs_sample *s)
{
	struct kvs_run *run;
	unsigned int i;
	int err;

	run = kvzalloc(struct_size(run, th, nr), GFP_KERNEL);
	if (!run)
		return -ENOMEM;
	err = kvs_target_get(&run->t, id, live, o->populate);
	if (err)
		goto free_run;
	run->o = o;
	run->wl = wl;
	run->nr = nr;
	run->deadline = local_clock() + o->budget_ms * NSEC_PER_MSEC;
	atomic_set(&run->ready, nr);
	atomic_set(&run->running, nr);
	atomic_set(&run->left, nr);
	init_completion(&run->all_ready);
	init_completion(&run->go);
	init_completion(&run->all_done);
	init_completion(&run->release);
	init_completion(&run->all_gone);
	spin_lock_init(&run->ring_lock);
	err = kvs_bg_fill(run);
	if (err) {
		kvs_bg_free(run);
		goto put;
	}

	err = kvs_run_start(run);
	if (err) {
		/* Threads that never ran are stopped before they start. */
		kvs_run_stop(run);
		kvs_bg_free(run);
		goto put;
	}
	for (i = 0; i < nr; i++)
		wake_up_process(run->th[i].task);
	kvs_run_measure(run, s);
	/* kthread_stop() waits uninterruptibly: only once they are done. */
	kvs_run_wait(run, &run->all_gone);
	kvs_run_stop(run);
	kvs_ring_drain(run);
	kvs_bg_free(run);
	if (run->t.a) {
		kvs_free_all(run->t.a);
		s->chunks = kvs_pcpu_chunks(run->t.a);
		if (kvs_check(run->t.a, NULL))
			s->bad = true;
	}
put:
	kvs_target_put(&run->t);
free_run:
	kvfree(run);
	return err;
}

/* === Results === */

#define KVS_MAX_RESULTS	512
#define KVS_MAX_REPS	64

/**
 * struct kvs_result - one line of the results file.
 * @workload:  workload name, or "scaling".
 * @target:    target index.
 * @threads:   threads.
 * @live:      live areas during the timed part (busy or scaling level).
 * @reps:      repetitions measured.
 * @iters:     timed iterations per repetition (median).
 * @avg_ns:    median over repetitions of the mean iteration time.
 * @p50_ns:    median iteration time, all repetitions pooled.
 * @p99_ns:    99th percentile, pooled.
 * @max_ns:    slowest iteration.
 * @ops_per_s: median over repetitions of iterations per second, all
 *             threads together.
 * @spread:    (slowest - fastest) / median of the mean, percent.
 * @idx_x100:  index operations per iteration, times 100.
 * @aug_x100:  rb augment steps per iteration, times 100.
 * @walk_x100: list nodes walked per iteration, times 100.
 * @meta:      metadata bytes per live area (0 when none are live).
 * @fails:     failed iterations, all repetitions.
 * @capped:    the time budget cut a repetition short.
 * @bad:       repetitions after which "check" failed.
 * @chunks:    per-CPU chunks left after the last teardown (must be 0).
 * @skip:      why it did not run, or NULL.
 * @populate:  areas were backed with pages.
 * @bg:        background areas live during the timed part.
 * @bg_asked:  background areas asked for (the command's background=).
 * @layout:    the background was the loaded layout (background=layout).
 * @gap_cap:   the layout's gaps were narrowed to this many bytes to fit
 *             the arena (0: placed as written).
 * @st_x100:   each arena counter per iteration, times 100.
 */
struct kvs_result {
	const char *workload;
	bool populate;
	int target;
	unsigned int threads;
	unsigned long live;
	unsigned int reps;
	unsigned long iters;
	u64 avg_ns;
	u64 p50_ns;
	u64 p99_ns;
	u64 max_ns;
	u64 ops_per_s;
	unsigned int spread;
	unsigned long idx_x100;
	unsigned long aug_x100;
	unsigned long walk_x100;
	unsigned long meta;
	unsigned long fails;
	bool capped;
	unsigned int bad;
	unsigned long chunks;
	const char *skip;
	unsigned long bg;
	unsigned long bg_asked;
	bool layout;
	unsigned long gap_cap;
	unsigned long st_x100[KVS_NR_STATS];
};

/*
 * The results of the last run, or of the running one so far, each with
 * its pooled histogram; shown through debugfs.  kvs_bench_lock lets one
 * run at a time and is held for all of it, minutes, so readers never take
 * it.  A run fills the results past kvs_nr_shown and publishes each one
 * it finishes by raising kvs_nr_shown under kvs_results_lock; readers show
 * the first kvs_nr_shown under that lock, held only while they format, and
 * a new run zeroes kvs_nr_shown under it before overwriting anything.
 */
static DEFINE_MUTEX(kvs_bench_lock);
static DEFINE_MUTEX(kvs_results_lock);
static struct kvs_result *kvs_results;
static struct kvs_hist *kvs_hists;
static unsigned int kvs_nr_results;	/* filled, under kvs_bench_lock */
static unsigned int kvs_nr_shown;	/* published, under kvs_results_lock */

/* Make the results filled so far readable; the caller is the run. */
static void kvs_results_publish(void)
{
	mutex_lock(&kvs_results_lock);
	kvs_nr_shown = kvs_nr_results;
	mutex_unlock(&kvs_results_lock);
}

static int kvs_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static u64 kvs_median(u64 *v, unsigned int n)
{
	sort(v, n, sizeof(*v), kvs_cmp_u64, NULL);
	return v[n / 2];
}

static struct kvs_result *kvs_result_new(const char *workload, int target,
					 unsigned int threads, bool populate)
{
	struct kvs_result *r;

	if (kvs_nr_results == KVS_MAX_RESULTS)
		return NULL;
	r = &kvs_results[kvs_nr_results++];
	memset(r, 0, sizeof(*r));
	r->workload = workload;
	r->populate = populate;
	r->target = target;
	r->threads = threads;
	return r;
}

/* Fold one repetition into the result; @avg and @ops collect medians. */
static void kvs_result_add(struct kvs_result *r, struct kvs_hist *pool,
			   const struct kvs_sample *s, u64 *avg, u64 *ops,
			   u64 *iters)
{
	unsigned int i = r->reps++, j;

	kvs_hmerge(pool, &s->hist);
	avg[i] = s->hist.count ? div64_u64(s->hist.sum, s->hist.count) : 0;
	ops[i] = s->wall_ns ? div64_u64((u64)s->iters * NSEC_PER_SEC,
				       s->wall_ns) : 0;
	iters[i] = s->iters;
	r->fails += s->fails;
	r->capped |= s->capped;
	r->bad += s->bad;
	r->chunks = s->chunks;
	r->live = s->live;
	r->bg = s->bg;
	if (s->iters) {
		r->idx_x100 = s->idx_ops * 100 / s->iters;
		r->aug_x100 = s->aug * 100 / s->iters;
		r->walk_x100 = s->walked * 100 / s->iters;
		for (j = 0; j < KVS_NR_STATS; j++)
			r->st_x100[j] = s->st[j] * 100 / s->iters;
	}
	r->meta = s->live && s->meta ? s->meta / (s->live + s->bg) : 0;
}

static void kvs_result_finish(struct kvs_result *r, struct kvs_hist *pool,
			      u64 *avg, u64 *ops, u64 *iters)
{
	u64 lo, hi;

	if (!r->reps)
		return;
	sort(avg, r->reps, sizeof(*avg), kvs_cmp_u64, NULL);
	lo = avg[0];
	hi = avg[r->reps - 1];
	r->avg_ns = avg[r->reps / 2];
	r->spread = r->avg_ns ? div64_u64((hi - lo) * 100, r->avg_ns) : 0;
	r->ops_per_s = kvs_median(ops, r->reps);
	r->iters = kvs_median(iters, r->reps);
	r->p50_ns = kvs_hpct(pool, 50);
	r->p99_ns = kvs_hpct(pool, 99);
	r->max_ns = pool->max;
	kvs_hists[r - kvs_results] = *pool;
}

/**
 * struct kvs_acc - scratch for one result's repetitions.
 * @pool:  histogram pooled over them.
 * @avg:   mean iteration time of each.
 * @ops:   iterations per second of each.
 * @iters: iterations of each.
 * @s:     the repetition being measured.
 */
struct kvs_acc {
	struct kvs_hist pool;
	u64 avg[KVS_MAX_REPS];
	u64 ops[KVS_MAX_REPS];
	u64 iters[KVS_MAX_REPS];
	struct kvs_sample s;
};

/* Results with background areas carry it in the workload's name. */
static const char *kvs_bg_tag(const struct kvs_result *r)
{
	if (r->layout)
		return "@layout";
	return r->bg_asked ? "@bg" : "";
}

static void kvs_result_log(const struct kvs_result *r)
{
	if (r->skip)
		return;
	pr_info("bench: %s%s%s on %s, %u thread(s): %llu ns/iter (p99 %llu), %llu iter/s%s\n",
		r->workload, r->populate ? "+pop" : "", kvs_bg_tag(r),
		kvs_result_target(r->target, r->populate), r->threads, r->avg_ns,
		r->p99_ns, r->ops_per_s, r->capped ? ", capped by budget" : "");
}

/* All repetitions of one (workload, target, threads). */
static int kvs_bench_one(struct kvs_arena *live, const struct kvs_bench_opts *o,
			 const struct kvs_workload *wl, int id,
			 unsigned int nr, struct kvs_acc *acc)
{
	struct kvs_result *r = kvs_result_new(wl->name, id, nr, o->populate);
	unsigned int rep;
	int err = 0;

	if (!r)
		return -ENOSPC;
	r->bg_asked = o->background;
	r->layout = !!o->lay;
	r->gap_cap = o->lay ? o->lay->gap_cap : 0;
	if (id == KVS_T_KERNEL && (wl->aligned || wl->arena)) {
		r->skip = "not expressible with get_vm_area() or vmalloc()";
		return 0;
	}
	memset(&acc->pool, 0, sizeof(acc->pool));
	for (rep = 0; rep < o->reps && !err; rep++) {
		memset(&acc->s, 0, sizeof(acc->s));
		err = kvs_run_once(live, o, wl, id, nr, &acc->s);
		if (!err)
			kvs_result_add(r, &acc->pool, &acc->s, acc->avg,
				       acc->ops, acc->iters);
		if (fatal_signal_pending(current))
			err = -EINTR;
	}
	kvs_result_finish(r, &acc->pool, acc->avg, acc->ops, acc->iters);
	kvs_result_log(r);
	return err;
}

/* === The scaling sweep === */

/*
 * Cost of a one-page alloc+free pair against the number of live areas,
 * 10^3 to 10^6, per target.  A target whose fill or loop outruns the
 * budget is capped at that level and skips the larger ones: the busy list
 * is O(n) per operation, so its 10^6 level would take hours under TCG.
 */
static int kvs_scaling(struct kvs_arena *live, const struct kvs_bench_opts *o,
		       struct kvs_acc *acc)
{
	static const struct kvs_workload wl = {
		"scaling", kvs_setup_long_busy, kvs_iter_fix_size
	};
	struct kvs_bench_opts lo = *o;
	struct kvs_result *r;
	unsigned long level;
	int id, err = 0;

	for (id = 0; id < KVS_NR_TARGETS && !err; id++) {
		if (o->targets && !(o->targets & BIT(id)))
			continue;
		for (level = 1000; level <= 1000000 && !err; level *= 10) {
			lo.busy = level;
			r = kvs_result_new("scaling", id, 1, o->populate);
			if (!r)
				return -ENOSPC;
			r->bg_asked = o->background;
			memset(&acc->pool, 0, sizeof(acc->pool));
			memset(&acc->s, 0, sizeof(acc->s));
			err = kvs_run_once(live, &lo, &wl, id, 1, &acc->s);
			if (err)
				break;
			kvs_result_add(r, &acc->pool, &acc->s, acc->avg,
				       acc->ops, acc->iters);
			kvs_result_finish(r, &acc->pool, acc->avg, acc->ops,
					  acc->iters);
			kvs_result_log(r);
			kvs_results_publish();
			if (r->capped || r->live < level)
				break;
			if (fatal_signal_pending(current))
				err = -EINTR;
		}
	}
	return err;
}

/* === The command === */

/**
 * kvs_bench_run() - run the suite and keep its results.
 * @live: the live arena, whose range the backends' private arenas copy.
 * @opts: what to run.
 * @e:    the reason, on failure.
 *
 * With opts->layout, every repetition places a copy of the loaded layout,
 * fitted once to the targets' arena size (kvs_layout_fit()).
 *
 * Context: process context; takes minutes; a fatal signal stops it.
 * Return: 0, -EBUSY while another run is going, -ENOMEM, -EINTR; with a
 * layout also -ENOENT (none loaded), -ERANGE (it cannot fit), -EINVAL
 * (with scaling).
 */
int kvs_bench_run(struct kvs_arena *live, const struct kvs_bench_opts *opts,
		  struct kvs_err *e)
{
	unsigned int nr, lo = opts->threads, hi = opts->threads;
	struct kvs_bench_opts with = *opts;
	const struct kvs_bench_opts *o = &with;
	struct kvs_layout *lay = NULL;
	struct kvs_acc *acc;
	int w, id, err = 0;

	if (opts->layout && opts->scaling)
		return kvs_fail(e, -EINVAL,
				"scaling runs on an empty arena: not with background=layout");
	if (!mutex_trylock(&kvs_bench_lock))
		return kvs_fail(e, -EBUSY, "a bench is already running");
	if (opts->layout) {
		lay = kvs_layout_copy(e);
		if (IS_ERR(lay)) {
			err = PTR_ERR(lay);
			lay = NULL;
			goto unlock;
		}
		/* The arena every target of this run gets (kvs_target_range()). */
		err = kvs_layout_fit(lay, opts->populate ?
				     min(live->size, KVS_BENCH_POP_RANGE) :
				     live->size, e);
		if (err)
			goto unlock;
		with.lay = lay;
	}
	if (!kvs_results)
		kvs_results = kvcalloc(KVS_MAX_RESULTS, sizeof(*kvs_results),
				       GFP_KERNEL);
	if (!kvs_hists)
		kvs_hists = kvcalloc(KVS_MAX_RESULTS, sizeof(*kvs_hists),
				     GFP_KERNEL);
	acc = kvzalloc(sizeof(*acc), GFP_KERNEL);
	if (!kvs_results || !kvs_hists || !acc) {
		err = kvs_fail(e, -ENOMEM, "no memory for the results");
		goto out;
	}
	kvs_nr_results = 0;
	kvs_results_publish();
	if (!o->threads) {
		lo = 1;
		hi = num_online_cpus();
	}

	if (o->scaling && o->populate) {
		err = kvs_fail(e, -EINVAL,
			       "scaling keeps up to 10^6 areas live: not with populate");
		goto out;
	}
	if (o->scaling) {
		err = kvs_scaling(live, o, acc);
		goto out;
	}
	for (w = 0; w < ARRAY_SIZE(kvs_workloads) && !err; w++) {
		if (o->workloads && !(o->workloads & BIT(w)))
			continue;
		for (id = 0; id < KVS_NR_TARGETS && !err; id++) {
			if (o->targets && !(o->targets & BIT(id)))
				continue;
			for (nr = lo; nr <= hi && !err; nr++) {
				err = kvs_bench_one(live, o, &kvs_workloads[w],
						    id, nr, acc);
				kvs_results_publish();
			}
		}
	}
out:
	if (err == -EINTR)
		kvs_fail(e, err, "interrupted; %u results kept", kvs_nr_results);
	else if (err == -ENOSPC)
		kvs_fail(e, err, "more than %d results; narrow the run",
			 KVS_MAX_RESULTS);
	else if (err && !e->msg[0])
		kvs_fail(e, err, "a run could not start (threads > CPUs? see the kernel log)");
	kvfree(acc);
	/* Also a result whose first repetition could not start. */
	kvs_results_publish();
unlock:
	kvfree(lay);
	mutex_unlock(&kvs_bench_lock);
	return err;
}

/* A comma-separated list of names into a bit mask of their indexes. */
static int kvs_names_mask(char *list, const char *(*name)(int), int n,
			  unsigned long *mask, struct kvs_err *e)
{
	char *tok;
	int i;

	*mask = 0;
	while ((tok = strsep(&list, ",")) != NULL) {
		for (i = 0; i < n; i++)
			if (!strcmp(tok, name(i)))
				break;
		if (i == n)
			return kvs_fail(e, -EINVAL, "unknown name \"%s\"", tok);
		*mask |= BIT(i);
	}
	return 0;
}

static const char *kvs_workload_name(int i)
{
	return kvs_workloads[i].name;
}

/*
 * The numeric options and their ranges.  budget_ms stops at a day, which
 * keeps local_clock() + budget_ms * NSEC_PER_MSEC centuries away from
 * wrapping; loops and busy bound the work and the busy array of a thread
 * (2 * busy handles for full_fit); reps fills fixed arrays.
 */
static const struct {
	const char *key;
	unsigned long min;
	unsigned long max;
} kvs_bench_nums[] = {
	{ "threads", 0, 0 },	/* up to the CPUs online, at parse time */
	{ "loops", 1, 100000000 },
	{ "busy", 0, 1000000 },
	{ "reps", 1, KVS_MAX_REPS },
	{ "budget_ms", 1, 24UL * 3600 * 1000 },
	{ "seed", 0, ULONG_MAX },
	{ "background", 0, 1000000 },
};

/**
 * kvs_bench_parse() - apply one KEY=VALUE option of the bench command.
 * @o:   the options so far.
 * @key: workload, target, threads, loops, busy, reps, budget_ms, seed or
 *       background.
 * @val: its value: names comma-separated, or a number; for background,
 *       also "layout".
 * @e:   the reason, on failure.
 *
 * Return: 0, -EINVAL (unknown key or name, not a number) or -ERANGE (a
 * number outside its range, given in the reason).
 */
int kvs_bench_parse(struct kvs_bench_opts *o, char *key, char *val,
		    struct kvs_err *e)
{
	unsigned long v, max;
	int i, err;

	if (!strcmp(key, "workload"))
		return kvs_names_mask(val, kvs_workload_name,
				      ARRAY_SIZE(kvs_workloads),
				      &o->workloads, e);
	if (!strcmp(key, "target"))
		return kvs_names_mask(val, kvs_target_name, KVS_NR_TARGETS,
				      &o->targets, e);
	if (!strcmp(key, "background") && !strcmp(val, "layout")) {
		o->layout = true;
		o->background = 0;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(kvs_bench_nums); i++)
		if (!strcmp(key, kvs_bench_nums[i].key))
			break;
	if (i == ARRAY_SIZE(kvs_bench_nums))
		return kvs_fail(e, -EINVAL, "unknown option \"%s\"", key);
	err = kstrtoul(val, 0, &v);
	if (err == -ERANGE)
		return kvs_fail(e, err, "%s=\"%s\" is out of range", key, val);
	if (err)
		return kvs_fail(e, -EINVAL, "%s=\"%s\" is not a number", key,
				val);
	max = kvs_bench_nums[i].max;
	/* threads: at most the CPUs online now; 0 sweeps 1 to all of them. */
	if (!strcmp(key, "threads"))
		max = num_online_cpus();
	if (v < kvs_bench_nums[i].min || v > max)
		return kvs_fail(e, -ERANGE, "%s=%lu is out of range (%lu to %lu)",
				key, v, kvs_bench_nums[i].min, max);
	if (!strcmp(key, "threads"))
		o->threads = v;
	else if (!strcmp(key, "loops"))
		o->loops = v;
	else if (!strcmp(key, "busy"))
		o->busy = v;
	else if (!strcmp(key, "reps"))
		o->reps = v;
	else if (!strcmp(key, "budget_ms"))
		o->budget_ms = v;
	else if (!strcmp(key, "seed"))
		o->seed = v;
	else
		o->background = v;
	/* The last background= given wins: a number or the layout. */
	if (!strcmp(key, "background"))
		o->layout = false;
	return 0;
}

/**
 * kvs_bench_show() - the results file: one line per result.
 * @m: the debugfs file.
 */
void kvs_bench_show(struct seq_file *m)
{
	const struct kvs_result *r;
	unsigned int i, j;

	mutex_lock(&kvs_results_lock);
	for (i = 0; i < kvs_nr_shown; i++) {
		r = &kvs_results[i];
		seq_printf(m, "workload=%s%s%s target=%s threads=%u",
			   r->workload, r->populate ? "+pop" : "", kvs_bg_tag(r),
			   kvs_result_target(r->target, r->populate),
			   r->threads);
		if (r->skip) {
			seq_puts(m, " skipped=1\n");
			continue;
		}
		seq_printf(m, " live=%lu reps=%u iters=%lu avg_ns=%llu p50_ns=%llu p99_ns=%llu max_ns=%llu ops_per_s=%llu spread_pct=%u",
			   r->live, r->reps, r->iters, r->avg_ns, r->p50_ns,
			   r->p99_ns, r->max_ns, r->ops_per_s, r->spread);
		seq_printf(m, " idx_ops=%lu.%02lu rb_aug=%lu.%02lu list_walked=%lu.%02lu meta_per_area=%lu fails=%lu capped=%d check_failed=%u chunks_left=%lu",
			   r->idx_x100 / 100, r->idx_x100 % 100,
			   r->aug_x100 / 100, r->aug_x100 % 100,
			   r->walk_x100 / 100, r->walk_x100 % 100, r->meta,
			   r->fails, r->capped, r->bad, r->chunks);
		if (r->bg_asked || r->layout)
			seq_printf(m, " background=%lu", r->bg);
		if (r->layout)
			seq_printf(m, " layout_gap_cap=%lu", r->gap_cap);
		/* The arena's counters per iteration, those that moved. */
		for (j = 0; j < KVS_NR_STATS; j++)
			if (r->st_x100[j])
				seq_printf(m, " c_%s=%lu.%02lu",
					   kvs_stat_names[j],
					   r->st_x100[j] / 100,
					   r->st_x100[j] % 100);
		seq_putc(m, '\n');
	}
	mutex_unlock(&kvs_results_lock);
}

/**
 * kvs_bench_show_hist() - the histograms file: for each result, one line
 * per non-empty bucket, with the bucket's lower bound in ns.
 * @m: the debugfs file.
 */
void kvs_bench_show_hist(struct seq_file *m)
{
	const struct kvs_result *r;
	unsigned int i, b;

	mutex_lock(&kvs_results_lock);
	for (i = 0; i < kvs_nr_shown; i++) {
		r = &kvs_results[i];
		if (r->skip)
			continue;
		for (b = 0; b < KVS_HBUCKETS; b++)
			if (kvs_hists[i].n[b])
				seq_printf(m, "workload=%s%s%s target=%s threads=%u live=%lu ns=%llu count=%u\n",
					   r->workload,
					   r->populate ? "+pop" : "",
					   kvs_bg_tag(r),
					   kvs_result_target(r->target,
							     r->populate),
					   r->threads, r->live, kvs_hlow(b),
					   kvs_hists[i].n[b]);
	}
	mutex_unlock(&kvs_results_lock);
}

/**
 * kvs_bench_exit() - free the results at unload.
 */
void kvs_bench_exit(void)
{
	kvfree(kvs_results);
	kvfree(kvs_hists);
	kvs_results = NULL;
	kvs_hists = NULL;
}
