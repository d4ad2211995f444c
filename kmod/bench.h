/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: the benchmark suite (see bench.c).
 */
#ifndef KVASHIM_BENCH_H
#define KVASHIM_BENCH_H

#include <linux/types.h>

struct kvs_arena;
struct kvs_err;
struct kvs_layout;
struct seq_file;

/**
 * struct kvs_bench_opts - one "bench" command.
 * @workloads: bit mask of workloads (bit i: kvs_workloads[i]); 0 = all.
 * @targets:   bit mask of targets (backends, then the kernel); 0 = all.
 * @threads:   kthreads, one bound per CPU; 0 = 1..nr_online_cpus.
 * @loops:     timed iterations per thread.
 * @busy:      live areas set up by the busy-list workloads (15000).
 * @reps:      repetitions; times are medians over them.
 * @budget_ms: a (workload, target) run stops at this much time and is
 *             reported as capped.
 * @scaling:   run the live-areas scaling sweep instead of the workloads.
 * @populate:  back every area with pages, freed through the lazy purge;
 *             the kernel target is then vmalloc()/vfree().
 * @seed:      seed of the random sizes and alignments.
 * @background: areas of mixed sizes kept live in the target during every
 *             repetition (0: an empty arena); results are then named
 *             "<workload>@bg".
 * @layout:    "background=layout": the areas of the layout loaded through
 *             bench_layout (layout.c), at its offsets, instead; results
 *             are then named "<workload>@layout".
 * @lay:       that layout, fitted to the targets' arenas (kvs_bench_run()).
 */
struct kvs_bench_opts {
	unsigned long workloads;
	unsigned long targets;
	unsigned int threads;
	unsigned long loops;
	unsigned long busy;
	unsigned int reps;
	unsigned long budget_ms;
	bool scaling;
	bool populate;
	u64 seed;
	unsigned long background;
	bool layout;
	const struct kvs_layout *lay;
};

int kvs_bench_parse(struct kvs_bench_opts *o, char *key, char *val,
		    struct kvs_err *e);
int kvs_bench_run(struct kvs_arena *live, const struct kvs_bench_opts *o,
		  struct kvs_err *e);
void kvs_bench_show(struct seq_file *m);
void kvs_bench_show_hist(struct seq_file *m);
void kvs_bench_exit(void);

#endif /* KVASHIM_BENCH_H */
