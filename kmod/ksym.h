/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: kernel symbols a module cannot link against, resolved once at
 * load time.  Every unexported symbol the module uses is listed here and
 * nowhere else.
 */
#ifndef KVASHIM_KSYM_H
#define KVASHIM_KSYM_H

#include <linux/pgtable.h>

struct mm_struct;
struct page;
struct vm_struct;

/**
 * struct kvs_ksyms - resolved addresses of unexported kernel symbols.
 * @get_vm_area: reserves a range of the vmalloc space (mm/vmalloc.c);
 *               not exported on Debian kernels 6.1 to 7.x.
 * @init_mm:     the kernel's own mm, whose page tables map the vmalloc
 *               space; apply_to_page_range() (exported) needs it, and it
 *               is not exported itself.  NULL where kallsyms lists no
 *               data symbols (no CONFIG_KALLSYMS_ALL): then the two
 *               below map and unmap instead.
 * @vmap_pages_range_noflush: mm's own mapping of a page array into the
 *               vmalloc space (mm/internal.h); only without @init_mm.
 * @vunmap_range_noflush: its unmapping; only without @init_mm.
 * @flush_tlb_kernel_range: shoots down kernel TLB entries on every CPU;
 *               out of line and unexported on x86, an inline elsewhere
 *               (see kvs_flush_tlb_kernel_range() in compat.h).
 */
struct kvs_ksyms {
	struct vm_struct *(*get_vm_area)(unsigned long size,
					 unsigned long flags);
	struct mm_struct *init_mm;
	int (*vmap_pages_range_noflush)(unsigned long addr, unsigned long end,
					pgprot_t prot, struct page **pages,
					unsigned int page_shift);
	void (*vunmap_range_noflush)(unsigned long start, unsigned long end);
	void (*flush_tlb_kernel_range)(unsigned long start, unsigned long end);
};

extern struct kvs_ksyms kvs_ksym;

int kvs_ksym_init(void);

#endif /* KVASHIM_KSYM_H */
