/* The kernel's share of a VM's life on this host's /dev/kvm, without any VMM: times each
   ioctl rxl-kvm makes to create and destroy a VM (create, irqchip, PIT, memory slot, vCPU,
   close). Used for docs/performance.md "Where the time goes".
   Build and run:  gcc -O2 -o /tmp/vm-lifecycle kvm-backend/bench/vm-lifecycle.c
                   /tmp/vm-lifecycle MIB PIT IRQCHIP      (e.g. 256 1 1; 256 0 1; 256 0 0)
   Prints one line of milliseconds per step; run it 10-20 times and take medians. */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MIB PIT IRQCHIP\n", argv[0]);
        return 2;
    }
    long mib = atol(argv[1]);
    int pit = atoi(argv[2]), irq = atoi(argv[3]);
    double t0 = now();
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (kvm < 0 || vm < 0) {
        perror("/dev/kvm");
        return 1;
    }
    double t1 = now();
    ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000);
    if (irq)
        ioctl(vm, KVM_CREATE_IRQCHIP, 0);
    double t2 = now();
    struct kvm_pit_config pc = {.flags = KVM_PIT_SPEAKER_DUMMY};
    if (pit)
        ioctl(vm, KVM_CREATE_PIT2, &pc);
    double t3 = now();
    size_t sz = (size_t)mib << 20;
    void *m = mmap(0, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    struct kvm_userspace_memory_region r = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = sz, .userspace_addr = (unsigned long)m};
    int rc = ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r);
    double t4 = now();
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    double t5 = now();
    close(vcpu);
    close(vm);
    double t6 = now();
    munmap(m, sz);
    close(kvm);
    double t7 = now();
    printf("mib=%ld pit=%d irq=%d rc=%d create=%.2f irqchip=%.2f pit=%.2f mem=%.2f vcpu=%.2f "
           "closevm=%.2f munmap=%.2f total=%.2f\n",
           mib, pit, irq, rc, t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t7 - t0);
    return 0;
}
