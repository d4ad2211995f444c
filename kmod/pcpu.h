/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: the per-CPU bump overlay (see pcpu.c).
 */
#ifndef KVASHIM_PCPU_H
#define KVASHIM_PCPU_H

#include "arena.h"

bool kvs_pcpu_eligible(struct kvs_arena *a, const struct kvs_spec *s,
		       unsigned long span);
int kvs_pcpu_alloc(struct kvs_arena *a, struct kvs_area *va,
		   unsigned long span);
struct kvs_area *kvs_pcpu_lookup(struct kvs_area *chunk, unsigned long addr);
void kvs_pcpu_unlink(struct kvs_arena *a, struct kvs_area *va);
bool kvs_pcpu_next(struct kvs_area *chunk, unsigned long addr,
		   struct kvs_area *out);
int kvs_pcpu_check(struct kvs_arena *a, struct kvs_check *c,
		   const struct kvs_area *chunk);
unsigned long kvs_pcpu_drain(struct kvs_arena *a);
int kvs_pcpu_start(struct kvs_arena *a, unsigned long chunk);
int kvs_pcpu_stop(struct kvs_arena *a);
void kvs_pcpu_show(struct kvs_arena *a, struct seq_file *m);
void kvs_pcpu_chunks_show(struct kvs_arena *a, struct seq_file *m);
unsigned long kvs_pcpu_chunks(struct kvs_arena *a);

#endif /* KVASHIM_PCPU_H */
