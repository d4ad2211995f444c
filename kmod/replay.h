/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: replay of recorded vmalloc traffic (see replay.c).
 */
#ifndef KVASHIM_REPLAY_H
#define KVASHIM_REPLAY_H

#include <linux/bits.h>
#include <linux/types.h>

struct dentry;
struct kvs_arena;
struct kvs_err;

/* Operations a trace may hold (ids below it), its windows, its lines. */
#define KVS_REPLAY_MAX_OPS	BIT(20)
#define KVS_REPLAY_WINDOWS	8
#define KVS_REPLAY_LINE		256
#define KVS_REPLAY_VERSION	1

int kvs_replay_cmd(struct kvs_arena *live, int argc, char **argv, char *out,
		   size_t len, struct kvs_err *e);
void kvs_replay_debugfs(struct dentry *dir, struct kvs_arena *live);
void kvs_replay_exit(void);

#endif /* KVASHIM_REPLAY_H */
