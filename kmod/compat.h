/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: every difference between the kernels it supports (Debian 6.1,
 * 6.12 and 7.x), each with a one-line note on what changed.  No other
 * file tests LINUX_VERSION_CODE.
 */
#ifndef KVASHIM_COMPAT_H
#define KVASHIM_COMPAT_H

#include <linux/version.h>
#include <linux/types.h>

/* v6.1: the maple tree arrived; kvashim's allocator is built on it. */
#if KERNEL_VERSION(6, 1, 0) > LINUX_VERSION_CODE
#error "kvashim needs the maple tree: Linux 6.1 or later"
#endif

#ifdef CONFIG_X86_KERNEL_IBT
#include <asm/ibt.h>
/* v5.18: x86 IBT; objtool seals functions whose address is never taken. */
static inline bool kvs_callable(void *fn)
{
#if KERNEL_VERSION(6, 15, 0) <= LINUX_VERSION_CODE
	/* v6.15: is_endbr() takes a pointer, out of line; __is_endbr() tests a value. */
	return __is_endbr(*(u32 *)fn);
#else
	return is_endbr(*(u32 *)fn);
#endif
}
#else
static inline bool kvs_callable(void *fn)
{
	return true;
}
#endif

#include <linux/gfp.h>

/* v6.14: alloc_pages_bulk_array() was renamed alloc_pages_bulk(). */
#if KERNEL_VERSION(6, 14, 0) <= LINUX_VERSION_CODE
#define kvs_alloc_pages_bulk(gfp, nr, pages) alloc_pages_bulk(gfp, nr, pages)
#else
#define kvs_alloc_pages_bulk(gfp, nr, pages) \
	alloc_pages_bulk_array(gfp, nr, pages)
#endif

/*
 * Not a version but an architecture: x86 flushes kernel TLB ranges out of
 * line and does not export it (resolved in ksym.c); arm64 inlines it.
 */
#ifdef CONFIG_X86
#define KVS_FLUSH_TLB_KERNEL_OUT_OF_LINE	1
#else
#define KVS_FLUSH_TLB_KERNEL_OUT_OF_LINE	0
#endif

#include <linux/maple_tree.h>
#include <linux/xarray.h>

/* v6.7: a ma_state's position moved from magic nodes to mas->status. */
#if KERNEL_VERSION(6, 7, 0) <= LINUX_VERSION_CODE
static inline bool kvs_mas_active(const struct ma_state *mas)
{
	return mas->status == ma_active;
}
#else
/* Before: MAS_START, MAS_ROOT, MAS_NONE, MAS_PAUSE or an error, else a node. */
static inline bool kvs_mas_active(const struct ma_state *mas)
{
	return (unsigned long)mas->node > (unsigned long)MAS_PAUSE &&
	       !xa_is_err(mas->node);
}
#endif

#endif /* KVASHIM_COMPAT_H */
