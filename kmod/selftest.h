/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KVASHIM_SELFTEST_H
#define KVASHIM_SELFTEST_H

#include <linux/types.h>

struct seq_file;

#define KVS_REPORT_BYTES	(64 * 1024)

/**
 * struct kvs_ktap - a KTAP report being written.
 * @buf:    the text.
 * @len:    bytes written.
 * @cap:    bytes available.
 * @nr:     test points so far.
 * @failed: of which failed.
 */
struct kvs_ktap {
	char *buf;
	size_t len;
	size_t cap;
	unsigned int nr;
	unsigned int failed;
};

int kvs_selftest(u64 seed, unsigned long ops, unsigned int *failed);
void kvs_selftest_show(struct seq_file *m);
void kvs_selftest_exit(void);

#endif /* KVASHIM_SELFTEST_H */
