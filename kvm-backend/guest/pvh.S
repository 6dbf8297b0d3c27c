/* rxl tiny PVH kernel: entered in 32-bit protected mode, paging off, EBX = hvm_start_info
   (the Xen/PVH boot ABI). It prints over COM1, probes an MMIO hole, reads sector 0 of the
   first virtio-mmio block device through a split virtqueue and prints a checksum, then
   powers off (0x600 = ACPI S5; 0xf4 first for QEMU's debug-exit), or, when the command line
   contains "reboot", pulses the i8042 reset line, with "spin" runs forever, with "echo" waits for one byte of console input and prints it, with "button" polls the ACPI
   GED status port until the power button is pressed, then powers off; "quiet" prints only GUEST-UP and powers off (benchmarks). Assembled as 32-bit code in an ELF64 file
   (linux-loader loads ELF64 only). */
#include "common.inc"
.set VIRTIO_BASE, 0xd0000000
.set MMIO_HOLE, 0xc0000000
.set QSZ, 8

.section .note.Xen, "a", @note
.align 4
.long 4, 4, 18                /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
.asciz "Xen"
.align 4
.long _start

.code32
.text
.globl _start
_start:
    cli
    mov $stack_top, %esp
    mov %ebx, %ebp                      /* keep start_info */
    mov $s_quiet, %edi                  /* "quiet": one marker line, then power off */
    mov $5, %ecx
    call cmdline_has
    jne 1f
    mov $s_up, %esi
    call puts
    jmp .Lpoweroff
1:  mov $s_hello, %esi
    call puts

    cmpl $0x336ec578, (%ebp)
    jne 1f
    mov $s_magic_ok, %esi
    jmp 2f
1:  mov $s_magic_bad, %esi
2:  call puts

    mov $s_memmap, %esi
    call puts
    mov 48(%ebp), %eax                  /* memmap_entries */
    call puthex
    call newline

    mov $s_cmdline, %esi
    call puts
    mov 24(%ebp), %esi                  /* cmdline_paddr (low 32 bits) */
    call puts
    call newline

    /* An MMIO read nobody decodes: the VMM must answer all-ones. */
    mov $s_hole, %esi
    call puts
    mov MMIO_HOLE, %eax
    call puthex
    call newline

    call virtio_blk_read
    call shutdown_or_reboot

/* ---- virtio-blk: read sector 0 into buf and print the sum of its 128 dwords ---- */
virtio_blk_read:
    mov $VIRTIO_BASE, %edi
    cmpl $0x74726976, (%edi)            /* "virt" */
    jne .Lno_virtio
    cmpl $2, 8(%edi)                    /* device id: block */
    jne .Lno_virtio
    movl $0, 0x70(%edi)                 /* reset */
    movl $1, 0x70(%edi)                 /* ACKNOWLEDGE */
    movl $3, 0x70(%edi)                 /* | DRIVER */
    movl $1, 0x24(%edi)                 /* driver features, high word: */
    movl $1, 0x20(%edi)                 /*   VIRTIO_F_VERSION_1 */
    movl $0, 0x24(%edi)
    movl $0, 0x20(%edi)
    movl $0xb, 0x70(%edi)               /* | FEATURES_OK */
    testl $8, 0x70(%edi)
    jz .Lvirtio_fail
    movl $0, 0x30(%edi)                 /* queue 0 */
    cmpl $QSZ, 0x34(%edi)
    jb .Lvirtio_fail
    movl $QSZ, 0x38(%edi)
    movl $desc, 0x80(%edi)
    movl $0, 0x84(%edi)
    movl $avail, 0x90(%edi)
    movl $0, 0x94(%edi)
    movl $used, 0xa0(%edi)
    movl $0, 0xa4(%edi)
    movl $1, 0x44(%edi)                 /* QueueReady */
    movl $0xf, 0x70(%edi)               /* | DRIVER_OK */

    movw $0, avail+4                    /* ring[0] = descriptor chain 0 */
    movw $1, avail+2                    /* idx = 1 */
    movl $0, 0x50(%edi)                 /* QueueNotify(0) */
    mov $1000000, %ecx
1:  cmpw $1, used+2                     /* device published one used element? */
    je 2f
    loop 1b
    jmp .Lvirtio_fail
2:  mov $s_blk_status, %esi
    call puts
    movzbl status, %eax
    call puthex
    call newline
    mov $s_blk_sum, %esi
    call puts
    xor %eax, %eax
    mov $buf, %esi
    mov $128, %ecx
3:  add (%esi), %eax
    add $4, %esi
    loop 3b
    call puthex
    call newline
    mov $s_blk_irq, %esi
    call puts
    mov 0x60(%edi), %eax                /* InterruptStatus: bit 0 = used ring */
    mov %eax, 0x64(%edi)                /* InterruptACK */
    call puthex
    call newline
    ret
.Lno_virtio:
    mov $s_no_virtio, %esi
    jmp puts
.Lvirtio_fail:
    mov $s_virtio_fail, %esi
    jmp puts

shutdown_or_reboot:
    mov $s_echo, %edi                   /* "echo": wait for one byte on COM1, print it */
    mov $4, %ecx
    call cmdline_has
    jne 2f
    mov $s_waiting, %esi
    call puts
    mov $COM1+5, %dx
1:  pause
    in %dx, %al                         /* LSR bit 0: data ready */
    test $1, %al
    jz 1b
    mov $COM1, %dx
    in %dx, %al
    mov %al, %bl
    mov $s_got, %esi
    call puts
    mov %bl, %al
    mov $COM1, %dx
    out %al, %dx
    call newline
    jmp .Lpoweroff
2:  mov $s_button, %edi                 /* "button": wait for the ACPI power button */
    mov $6, %ecx
    call cmdline_has
    jne 2f
    mov $s_waiting_button, %esi
    call puts
    mov $GED_PORT, %dx
1:  pause
    in %dx, %al                         /* GED status, read-to-clear: bit 0 = power button */
    test $1, %al
    jz 1b
    mov $s_pressed, %esi
    call puts
    jmp .Lpoweroff
2:  mov $s_spin, %edi
    mov $4, %ecx
    call cmdline_has
    je .Lspin
    mov $s_reboot, %edi
    mov $6, %ecx
    call cmdline_has
    je .Lreboot
    jmp .Lpoweroff
.Lspin:                                 /* "spin": run forever (pause/destroy tests) */
    mov $s_spinning, %esi
    call puts
1:  pause
    jmp 1b
.Lreboot:
    mov $s_bye_reboot, %esi
    call puts
    mov $I8042_RESET, %al
    out %al, $I8042_CMD
    jmp .Lhalt
.Lpoweroff:
    mov $s_bye_off, %esi
    call puts
    xor %eax, %eax
    out %eax, $DEBUG_EXIT_PORT          /* QEMU isa-debug-exit; ignored by rxl-kvm */
    mov $SHUTDOWN_PORT, %dx
    mov $SHUTDOWN_S5, %al
    out %al, %dx
.Lhalt:
    cli
    hlt
    jmp .Lhalt

/* ZF set when the command line contains the ecx bytes at edi. */
cmdline_has:
    mov 24(%ebp), %esi
1:  cmpb $0, (%esi)
    je 2f
    push %esi
    push %edi
    push %ecx
    repe cmpsb
    pop %ecx
    pop %edi
    pop %esi
    je 3f
    inc %esi
    jmp 1b
2:  or $1, %esi                         /* clear ZF: not found */
3:  ret

/* ---- console ---- */
puts:                                   /* esi = NUL-terminated string */
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
puthex:                                 /* eax, as 8 hex digits */
    push %ecx
    push %ebx
    mov %eax, %ebx
    mov $8, %ecx
    mov $COM1, %dx
1:  rol $4, %ebx
    mov %ebx, %eax
    and $0xf, %eax
    mov hexdigits(%eax), %al
    out %al, %dx
    loop 1b
    pop %ebx
    pop %ecx
    ret

.section .rodata
hexdigits:     .ascii "0123456789abcdef"
s_hello:       .asciz "RXL-GUEST: hello from the PVH entry\n"
s_magic_ok:    .asciz "PVH-MAGIC=ok\n"
s_magic_bad:   .asciz "PVH-MAGIC=bad\n"
s_memmap:      .asciz "MEMMAP-ENTRIES="
s_cmdline:     .asciz "CMDLINE="
s_hole:        .asciz "MMIO-HOLE="
s_blk_status:  .asciz "VIRTIO-BLK-STATUS="
s_blk_sum:     .asciz "VIRTIO-BLK-SUM="
s_blk_irq:     .asciz "VIRTIO-BLK-ISR="
s_no_virtio:   .asciz "VIRTIO-BLK=absent\n"
s_virtio_fail: .asciz "VIRTIO-BLK=failed\n"
s_reboot:      .ascii "reboot"
s_spin:        .ascii "spin"
s_button:      .ascii "button"
s_waiting_button: .asciz "RXL-GUEST: waiting for the power button\n"
s_pressed:     .asciz "RXL-GUEST: power button pressed\n"
s_echo:        .ascii "echo"
s_waiting:     .asciz "RXL-GUEST: waiting for input\n"
s_got:         .asciz "ECHO="
s_quiet:       .ascii "quiet"
s_up:          .asciz "GUEST-UP\n"
s_spinning:    .asciz "RXL-GUEST: spinning\n"
s_bye_off:     .asciz "RXL-GUEST: power off\n"
s_bye_reboot:  .asciz "RXL-GUEST: reboot\n"

.data
.align 16
desc:                                   /* addr, len, flags (1 NEXT, 2 WRITE), next */
    .quad req_hdr
    .long 16
    .word 1, 1
    .quad buf
    .long 512
    .word 3, 2
    .quad status
    .long 1
    .word 2, 0
    .fill (QSZ - 3) * 16, 1, 0
.align 2
avail:
    .word 0, 0
    .fill QSZ, 2, 0
    .word 0
.align 4
used:
    .word 0, 0
    .fill QSZ * 8, 1, 0
    .word 0
.align 16
req_hdr:
    .long 0, 0                          /* type VIRTIO_BLK_T_IN, reserved */
    .quad 0                             /* sector 0 */
status: .byte 0xff
.align 16
buf: .fill 512, 1, 0
.align 16
stack: .fill 1024, 1, 0
stack_top:
