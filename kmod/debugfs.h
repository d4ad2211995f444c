/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KVASHIM_DEBUGFS_H
#define KVASHIM_DEBUGFS_H

struct kvs_arena;

void kvs_debugfs_init(struct kvs_arena *a);
void kvs_debugfs_exit(void);

#endif /* KVASHIM_DEBUGFS_H */
