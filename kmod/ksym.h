/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: kernel symbols a module cannot link against, resolved once at
 * load time.  Every unexported symbol the module uses is listed here and
 * nowhere else.
 */
#ifndef KVASHIM_KSYM_H
#define KVASHIM_KSYM_H

struct vm_struct;

/**
 * struct kvs_ksyms - resolved addresses of unexported kernel functions.
 * @get_vm_area: reserves a range of the vmalloc space (mm/vmalloc.c);
 *               not exported on Debian kernels 6.1 to 7.x.
 */
struct kvs_ksyms {
	struct vm_struct *(*get_vm_area)(unsigned long size,
					 unsigned long flags);
};

extern struct kvs_ksyms kvs_ksym;

int kvs_ksym_init(void);

#endif /* KVASHIM_KSYM_H */
