/* The kernel's share of a VM's life on this host's /dev/kvm, without any VMM: makes the KVM
   ioctls rxl-kvm makes to create and destroy a VM, in an order given on the command line, and
   times each. Used for docs/performance.md "Where the time goes" and to choose rxl-kvm's ioctl
   order (most of the cost is SRCU grace periods, whose length depends on what came before).
   Build:  gcc -O2 -pthread -o /tmp/vm-lifecycle kvm-backend/bench/vm-lifecycle.c
   Run:    /tmp/vm-lifecycle MIB STEPS        e.g. 256 ipRmfv   (rxl-kvm's default order)
   STEPS, one letter each, run left to right after KVM_CREATE_VM + KVM_SET_TSS_ADDR:
     i  KVM_CREATE_IRQCHIP              p  KVM_CREATE_PIT2 (speaker dummy)
     R  KVM_REINJECT_CONTROL, pit_reinject=0 (what QEMU's lost_tick_policy=discard does)
     m  KVM_SET_USER_MEMORY_REGION, MIB MiB of anonymous MAP_NORESERVE memory at 0
     f  three KVM_IRQFDs (GSI 4, 5, 9: COM1, virtio, GED)
     v  KVM_CREATE_VCPU 0              z  sleep 1 ms (to separate grace periods)
     w  1 ms of CPU work (a VMM loading a kernel)
     A  pin this thread off CPU 0 (the CPU that runs a small srcu_struct's callbacks)
     a  unpin it                        T  start R on a second thread    J  join that thread
     U  T, that thread pinned off CPU 0
   then the VM fd (and vCPU fd) is closed: "close" is that teardown. Prints one line of
   milliseconds per step; run it 20-40 times and take medians (bench/vm-lifecycle-medians.sh). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void check(int rc, const char *what) {
    if (rc < 0) {
        perror(what);
        exit(1);
    }
}

static int reinject_off(int vm) {
    struct kvm_reinject_control rc = {.pit_reinject = 0};
    return ioctl(vm, KVM_REINJECT_CONTROL, &rc);
}

static void pin(int off_cpu0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c = off_cpu0 ? 1 : 0; c < CPU_SETSIZE; c++)
        CPU_SET(c, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

static int thread_pinned;

static void *reinject_thread(void *vm) {
    if (thread_pinned)
        pin(1);
    check(reinject_off((int)(long)vm), "KVM_REINJECT_CONTROL");
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MIB STEPS   (STEPS: letters of i p R m f v z w A a T U J)\n", argv[0]);
        return 2;
    }
    long mib = atol(argv[1]);
    const char *steps = argv[2];
    size_t sz = (size_t)mib << 20;
    void *m = NULL;
    int vcpu = -1;
    pthread_t thread;
    double t0 = now();
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    check(kvm, "/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    check(vm, "KVM_CREATE_VM");
    check(ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000), "KVM_SET_TSS_ADDR");
    double t = now();
    printf("create=%.2f", t - t0);
    for (const char *s = steps; *s; s++) {
        switch (*s) {
        case 'i':
            check(ioctl(vm, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
            break;
        case 'p': {
            struct kvm_pit_config pc = {.flags = KVM_PIT_SPEAKER_DUMMY};
            check(ioctl(vm, KVM_CREATE_PIT2, &pc), "KVM_CREATE_PIT2");
            break;
        }
        case 'R':
            check(reinject_off(vm), "KVM_REINJECT_CONTROL");
            break;
        case 'U':
        case 'T':
            thread_pinned = *s == 'U';
            check(-pthread_create(&thread, NULL, reinject_thread, (void *)(long)vm), "pthread");
            break;
        case 'J':
            pthread_join(thread, NULL);
            break;
        case 'A':
        case 'a':
            pin(*s == 'A');
            break;
        case 'm': {
            m = mmap(0, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
            struct kvm_userspace_memory_region r = {
                .slot = 0, .guest_phys_addr = 0, .memory_size = sz,
                .userspace_addr = (unsigned long)m};
            check(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r), "KVM_SET_USER_MEMORY_REGION");
            break;
        }
        case 'f': {
            static const unsigned gsis[] = {4, 5, 9};
            for (int i = 0; i < 3; i++) {
                struct kvm_irqfd fd = {.fd = eventfd(0, EFD_NONBLOCK), .gsi = gsis[i]};
                check(ioctl(vm, KVM_IRQFD, &fd), "KVM_IRQFD");
            }
            break;
        }
        case 'v':
            vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
            check(vcpu, "KVM_CREATE_VCPU");
            break;
        case 'z':
            usleep(1000);
            break;
        case 'w': {
            double end = now() + 1;
            while (now() < end)
                ;
            break;
        }
        default:
            fprintf(stderr, "unknown step '%c'\n", *s);
            return 2;
        }
        double t1 = now();
        printf(" %c=%.2f", *s, t1 - t);
        t = t1;
    }
    if (vcpu >= 0)
        close(vcpu);
    close(vm);
    double t1 = now();
    printf(" close=%.2f", t1 - t);
    if (m)
        munmap(m, sz);
    close(kvm);
    printf(" total=%.2f\n", now() - t0);
    return 0;
}
