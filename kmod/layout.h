/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: the bench's background layout (see layout.c).
 */
#ifndef KVASHIM_LAYOUT_H
#define KVASHIM_LAYOUT_H

#include <linux/types.h>

struct dentry;
struct kvs_err;

/* Areas a layout may hold, and the longest line of its text. */
#define KVS_LAYOUT_MAX		65536
#define KVS_LAYOUT_LINE		80

/**
 * struct kvs_lent - one area of a layout.
 * @off:  offset of its reservation from the arena's base, bytes.
 * @size: bytes of the reservation, its guard page included.
 */
struct kvs_lent {
	unsigned long off;
	unsigned long size;
};

/**
 * struct kvs_layout - areas at given offsets, sorted, never overlapping.
 * @n:       areas.
 * @span:    end of the last area's reservation: offset plus size.
 * @bytes:   sum of the sizes.
 * @gap_cap: 0, or the largest gap kept by kvs_layout_fit(): every gap
 *           wider than it was narrowed to it.
 * @e:       the areas, by offset.
 */
struct kvs_layout {
	unsigned long n;
	unsigned long span;
	unsigned long bytes;
	unsigned long gap_cap;
	struct kvs_lent e[];
};

struct kvs_layout *kvs_layout_copy(struct kvs_err *e);
int kvs_layout_fit(struct kvs_layout *l, unsigned long size,
		   struct kvs_err *e);
void kvs_layout_debugfs(struct dentry *dir);
void kvs_layout_exit(void);

#endif /* KVASHIM_LAYOUT_H */
