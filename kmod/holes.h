/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: the holes file, the arena's free space by size (see holes.c).
 */
#ifndef KVASHIM_HOLES_H
#define KVASHIM_HOLES_H

struct dentry;
struct kvs_arena;

void kvs_holes_debugfs(struct dentry *dir, struct kvs_arena *a);

#endif /* KVASHIM_HOLES_H */
