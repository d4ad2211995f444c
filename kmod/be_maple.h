/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: occupied-tree operations shared by the maple backends.
 * Locking and RCU rules: see the comment at the top of be_maple_rfc.c.
 */
#ifndef KVASHIM_BE_MAPLE_H
#define KVASHIM_BE_MAPLE_H

#include <linux/maple_tree.h>

#include "arena.h"

/* Nodes met so far by an in-order walk of the leaves (kvs_mt_count_leaf()). */
struct kvs_mt_nodes {
	struct maple_node *last[MAPLE_HEIGHT_MAX];
	unsigned long nodes;
};

void kvs_mt_init(struct maple_tree *mt);
void kvs_mt_count_leaf(struct kvs_mt_nodes *n, struct maple_enode *en);
int kvs_mt_store(struct kvs_arena *a, struct ma_state *mas,
		 struct maple_enode *leaf, void *entry, gfp_t gfp);
int kvs_mt_alloc(struct kvs_arena *a, struct maple_tree *mt,
		 struct kvs_area *va, const struct kvs_req *r);
int kvs_mt_unlink(struct kvs_arena *a, struct maple_tree *mt,
		  struct kvs_area *va);
struct kvs_area *kvs_mt_lookup(struct kvs_arena *a, struct maple_tree *mt,
			       unsigned long addr);
bool kvs_mt_next(struct maple_tree *mt, unsigned long addr,
		 struct kvs_area *out);
int kvs_mt_check(struct kvs_arena *a, struct maple_tree *mt,
		 struct kvs_check *c);
int kvs_mt_check_gaps(struct kvs_arena *a, struct ma_state *mas,
		      unsigned long hole, struct kvs_check *c);
void kvs_mt_usage(struct kvs_arena *a, struct maple_tree *mt,
		  struct kvs_usage *u);
unsigned long kvs_mt_count_nodes(struct maple_tree *mt);

#endif /* KVASHIM_BE_MAPLE_H */
