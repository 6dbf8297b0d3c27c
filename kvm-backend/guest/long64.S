/* rxl tiny 64-bit kernel: an ELF64 without the PVH note, so the VMM enters it in long mode
   with its own GDT and identity page tables and RSI = boot_params (the Linux 64-bit boot
   ABI). It prints over COM1 what it finds in boot_params and in CR3, then powers off. */
#include "common.inc"

.code64
.text
.globl _start
_start:
    cli
    lea stack_top(%rip), %rsp
    mov %rsi, %rbp                      /* boot_params */
    lea s_hello(%rip), %rsi
    call puts
    lea s_e820(%rip), %rsi
    call puts
    movzbl 0x1e8(%rbp), %eax            /* e820_entries */
    call puthex
    call newline
    lea s_cmdline(%rip), %rsi
    call puts
    mov 0x228(%rbp), %esi               /* hdr.cmd_line_ptr */
    call puts
    call newline
    lea s_cr3(%rip), %rsi
    call puts
    mov %cr3, %rax
    call puthex
    call newline
    lea s_bye(%rip), %rsi
    call puts
    xor %eax, %eax
    out %eax, $DEBUG_EXIT_PORT
    mov $SHUTDOWN_PORT, %dx
    mov $SHUTDOWN_S5, %al
    out %al, %dx
1:  cli
    hlt
    jmp 1b

puts:
    mov $COM1, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  ret
newline:
    mov $COM1, %dx
    mov $'\n', %al
    out %al, %dx
    ret
puthex:                                 /* eax, 8 hex digits */
    mov %eax, %ebx
    mov $8, %ecx
    mov $COM1, %dx
    lea hexdigits(%rip), %rdi
1:  rol $4, %ebx
    mov %ebx, %eax
    and $0xf, %eax
    mov (%rdi,%rax), %al
    out %al, %dx
    loop 1b
    ret

.section .rodata
hexdigits: .ascii "0123456789abcdef"
s_hello:   .asciz "RXL-LONG: hello from 64-bit long mode\n"
s_e820:    .asciz "E820-ENTRIES="
s_cmdline: .asciz "CMDLINE="
s_cr3:     .asciz "CR3="
s_bye:     .asciz "RXL-LONG: power off\n"

.data
.align 16
stack: .fill 1024, 1, 0
stack_top:
