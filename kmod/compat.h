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

#endif /* KVASHIM_COMPAT_H */
