/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: kernel symbols a module cannot link against, resolved once at
 * load time.  Every unexported symbol the module uses is listed here and
 * nowhere else.
 */
#ifndef KVASHIM_KSYM_H
#define KVASHIM_KSYM_H

struct mm_struct;
struct vm_struct;

/**
 * struct kvs_ksyms - resolved addresses of unexported kernel symbols.
 * @get_vm_area: reserves a range of the vmalloc space (mm/vmalloc.c);
 *               not exported on Debian kernels 6.1 to 7.x.
 * @init_mm:     the kernel's own mm, whose page tables map the vmalloc
 *               space; apply_to_page_range() (exported) needs it, and it
 *               is not exported itself.
 * @flush_tlb_kernel_range: shoots down kernel TLB entries on every CPU;
 *               out of line and unexported on x86, an inline elsewhere
 *               (see kvs_flush_tlb_kernel_range() in compat.h).
 */
struct kvs_ksyms {
	struct vm_struct *(*get_vm_area)(unsigned long size,
					 unsigned long flags);
	struct mm_struct *init_mm;
	void (*flush_tlb_kernel_range)(unsigned long start, unsigned long end);
};

extern struct kvs_ksyms kvs_ksym;

int kvs_ksym_init(void);

#endif /* KVASHIM_KSYM_H */
