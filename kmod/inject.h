/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: deterministic fault injection at the module's allocation sites.
 *
 * A site is armed with a mode (fail the Nth evaluation, every Nth, or a
 * seeded pseudo-random percentage) and an optional cap on the number of
 * failures.  Evaluations are counted per site only while it is armed, so
 * the same single-threaded sequence of commands fails at the same place on
 * every run.  Unarmed, kvs_inject() is one load and a branch.
 */
#ifndef KVASHIM_INJECT_H
#define KVASHIM_INJECT_H

#include <linux/compiler.h>
#include <linux/types.h>

struct dentry;
struct kvs_err;

enum kvs_inj_site {
	KVS_INJ_AREA,	/* tracking object: kmem_cache_zalloc() in arena.c */
	KVS_INJ_MAPLE,	/* maple node: stores and erases of both maple trees */
	KVS_INJ_RBNODE,	/* rbtree: the spare free block (alloc and free) */
	KVS_INJ_CHUNK,	/* per-CPU chunk: its object and slot array */
	KVS_INJ_PAGE,	/* page allocation of page-backed areas */
	KVS_INJ_PTE,	/* page-table population of page-backed areas */
	KVS_INJ_KSYM,	/* kallsyms lookups at load: the module must refuse */
	KVS_INJ_NR
};

extern unsigned long kvs_inject_armed;

bool __kvs_inject(enum kvs_inj_site site);

/* Is any site armed?  One load: the hot paths' only cost when none is. */
static inline bool kvs_inject_any(void)
{
	return unlikely(READ_ONCE(kvs_inject_armed));
}

/**
 * kvs_inject() - should this evaluation of @site fail?
 * @site: the allocation site about to allocate.
 *
 * Sites of an arena go through kvs_fault() (arena.h), which applies them
 * to the live arena only; the load's symbol resolution has no arena.
 * Return: true if the caller must behave as if the allocation failed.
 */
static inline bool kvs_inject(enum kvs_inj_site site)
{
	if (likely(!READ_ONCE(kvs_inject_armed)))
		return false;
	return __kvs_inject(site);
}

int kvs_inject_cmd(int argc, char **argv, char *out, size_t len,
		   struct kvs_err *e);
void kvs_inject_debugfs(struct dentry *dir);

#endif /* KVASHIM_INJECT_H */
