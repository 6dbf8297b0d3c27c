/*
 * The Xen 4.17 public interface as rxl uses it, fed to bindgen by tests/regenerate.rs.
 * __XEN_TOOLS__ unlocks the toolstack-only headers (domctl.h, sysctl.h) and makes
 * xen-compat.h select the latest interface version of the installed headers.
 */
#define __XEN_TOOLS__ 1
#include <stdint.h>
#include <xen/xen.h>
#include <xen/arch-x86/xen.h>
#include <xen/arch-x86/cpuid.h>
#include <xen/arch-x86/hvm/start_info.h>
#include <xen/domctl.h>
#include <xen/sysctl.h>
#include <xen/memory.h>
#include <xen/version.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/elfnote.h>
#include <xen/hvm/params.h>
#include <xen/hvm/hvm_op.h>
#include <xen/io/xs_wire.h>
#include <xen/io/ring.h>
#include <xen/io/console.h>
