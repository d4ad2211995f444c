/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: tracepoints, under events/kvashim/ in tracefs.
 *
 * Numeric fields only, so bpftrace (args->field) and trace-cmd read them
 * the same on every kernel.  Latencies are measured only while an event
 * is enabled (see kvs_trace_clock()): a disabled tracepoint costs its
 * static branch and nothing else.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM kvashim

#if !defined(KVASHIM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define KVASHIM_TRACE_H

#include <linux/tracepoint.h>

/* Which path served an allocation or free. */
#define KVS_PATH_GLOBAL	0	/* the backend, under its lock */
#define KVS_PATH_PCPU	1	/* a per-CPU chunk's bump pointer */
#define KVS_PATH_LAZY	2	/* a populated area's free: to the lazy list */

#define kvs_show_backend(b)						\
	__print_symbolic(b, { 0, "maple" }, { 1, "maple-dual" },	\
			 { 2, "rbtree" }, { 3, "list" }, { 4, "maple-rfc" })
#define kvs_show_path(p)						\
	__print_symbolic(p, { KVS_PATH_GLOBAL, "global" },		\
			 { KVS_PATH_PCPU, "pcpu" }, { KVS_PATH_LAZY, "lazy" })

DECLARE_EVENT_CLASS(kvashim_area,

	TP_PROTO(unsigned long addr, unsigned long size, unsigned long align,
		 int backend, int path, int ret, u64 lat_ns),

	TP_ARGS(addr, size, align, backend, path, ret, lat_ns),

	TP_STRUCT__entry(
		__field(unsigned long, addr)
		__field(unsigned long, size)
		__field(unsigned long, align)
		__field(int, backend)
		__field(int, path)
		__field(int, ret)
		__field(u64, lat_ns)
	),

	TP_fast_assign(
		__entry->addr = addr;
		__entry->size = size;
		__entry->align = align;
		__entry->backend = backend;
		__entry->path = path;
		__entry->ret = ret;
		__entry->lat_ns = lat_ns;
	),

	TP_printk("addr=0x%lx size=%lu align=%lu backend=%s path=%s ret=%d lat_ns=%llu",
		  __entry->addr, __entry->size, __entry->align,
		  kvs_show_backend(__entry->backend),
		  kvs_show_path(__entry->path), __entry->ret, __entry->lat_ns)
);

/* One allocation: addr is 0 and ret a negative errno on failure. */
DEFINE_EVENT(kvashim_area, kvashim_alloc,
	TP_PROTO(unsigned long addr, unsigned long size, unsigned long align,
		 int backend, int path, int ret, u64 lat_ns),
	TP_ARGS(addr, size, align, backend, path, ret, lat_ns));

/* One free: size is 0 and ret -ENOENT when no area starts at addr. */
DEFINE_EVENT(kvashim_area, kvashim_free,
	TP_PROTO(unsigned long addr, unsigned long size, unsigned long align,
		 int backend, int path, int ret, u64 lat_ns),
	TP_ARGS(addr, size, align, backend, path, ret, lat_ns));

/* One lazy purge: the flushed span, what it returned, how long it took. */
TRACE_EVENT(kvashim_purge,

	TP_PROTO(unsigned long start, unsigned long end, unsigned long areas,
		 unsigned long pages, u64 lat_ns),

	TP_ARGS(start, end, areas, pages, lat_ns),

	TP_STRUCT__entry(
		__field(unsigned long, start)
		__field(unsigned long, end)
		__field(unsigned long, areas)
		__field(unsigned long, pages)
		__field(u64, lat_ns)
	),

	TP_fast_assign(
		__entry->start = start;
		__entry->end = end;
		__entry->areas = areas;
		__entry->pages = pages;
		__entry->lat_ns = lat_ns;
	),

	TP_printk("start=0x%lx end=0x%lx areas=%lu pages=%lu lat_ns=%llu",
		  __entry->start, __entry->end, __entry->areas,
		  __entry->pages, __entry->lat_ns)
);

DECLARE_EVENT_CLASS(kvashim_chunk,

	TP_PROTO(int cpu, unsigned long base, unsigned long size),

	TP_ARGS(cpu, base, size),

	TP_STRUCT__entry(
		__field(int, cpu)
		__field(unsigned long, base)
		__field(unsigned long, size)
	),

	TP_fast_assign(
		__entry->cpu = cpu;
		__entry->base = base;
		__entry->size = size;
	),

	TP_printk("cpu=%d base=0x%lx size=%lu", __entry->cpu, __entry->base,
		  __entry->size)
);

/* A CPU took a new chunk from the backend. */
DEFINE_EVENT(kvashim_chunk, kvashim_chunk_refill,
	TP_PROTO(int cpu, unsigned long base, unsigned long size),
	TP_ARGS(cpu, base, size));

/* A chunk with no live area left went back to the backend. */
DEFINE_EVENT(kvashim_chunk, kvashim_chunk_release,
	TP_PROTO(int cpu, unsigned long base, unsigned long size),
	TP_ARGS(cpu, base, size));

#endif /* KVASHIM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_PATH .
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
