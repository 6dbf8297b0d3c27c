/*
 * Oracle for tests/spec_vs_libxlu.rs: runs Xen's own spec parsers (libxlutil,
 * from Debian's libxen-dev) on one spec per stdin line, "<kind>\t<spec>", and
 * prints "OK <json>" or "ERR" per line. kind: disk | rate | pci.
 * JSON comes from libxenlight's generated *_to_json, the same code `xl -N` uses.
 * No hypervisor is needed: these functions only touch memory.
 *
 * Second mode, "libxlu_oracle json TYPE JSON": reads JSON with libxl's generated
 * libxl_device_TYPE_from_json and prints it back with _to_json, i.e. what libxl
 * understood. Keys libxl does not know vanish, so comparing the output with the
 * input checks rxl's field names and value shapes against libxl's IDL.
 * from_json wants a libxl_ctx only for its allocator bookkeeping and for logging
 * errors; a zeroed stand-in is enough for valid input (invalid enum strings make
 * it log through the stand-in and crash, which the test reports as a mismatch).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxl.h>
#include <libxlutil.h>

static void emit(char *json) {
    if (!json) { printf("OK null\n"); return; }
    for (char *p = json; *p; p++) if (*p == '\n') *p = ' ';
    printf("OK %s\n", json);
    free(json);
}

static char fake_ctx[1 << 16];

#define ROUNDTRIP(T)                                                          \
    if (!strcmp(type, #T)) {                                                  \
        libxl_device_##T d;                                                   \
        libxl_device_##T##_init(&d);                                          \
        if (libxl_device_##T##_from_json(ctx, &d, json)) { puts("ERR"); return 0; } \
        emit(libxl_device_##T##_to_json(ctx, &d));                            \
        return 0;                                                             \
    }

static int json_mode(const char *type, const char *json) {
    libxl_ctx *ctx = (libxl_ctx *)fake_ctx;
    ROUNDTRIP(disk) ROUNDTRIP(nic) ROUNDTRIP(pci) ROUNDTRIP(vfb) ROUNDTRIP(channel)
    ROUNDTRIP(vtpm) ROUNDTRIP(p9) ROUNDTRIP(usbctrl) ROUNDTRIP(usbdev)
    puts("BAD");
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "json"))
        return json_mode(argv[2], argv[3]);
    char line[65536];
    FILE *devnull = fopen("/dev/null", "w");
    XLU_Config *cfg = xlu_cfg_init(devnull, "spec");
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strlen(line);
        if (n && line[n-1] == '\n') line[--n] = 0;
        char *tab = strchr(line, '\t');
        if (!tab) { printf("BAD\n"); continue; }
        *tab = 0;
        const char *kind = line, *spec = tab + 1;
        if (!strcmp(kind, "disk")) {
            libxl_device_disk d; libxl_device_disk_init(&d);
            if (xlu_disk_parse(cfg, 1, &spec, &d)) printf("ERR\n");
            else emit(libxl_device_disk_to_json(NULL, &d));
            libxl_device_disk_dispose(&d);
        } else if (!strcmp(kind, "rate")) {
            libxl_device_nic nic; libxl_device_nic_init(&nic);
            if (xlu_vif_parse_rate(cfg, spec, &nic)) printf("ERR\n");
            else printf("OK {\"bytes\":%llu,\"usecs\":%u}\n", (unsigned long long)nic.rate_bytes_per_interval, nic.rate_interval_usecs);
            libxl_device_nic_dispose(&nic);
        } else if (!strcmp(kind, "pci")) {
            libxl_device_pci p; libxl_device_pci_init(&p);
            if (xlu_pci_parse_spec_string(cfg, &p, spec)) printf("ERR\n");
            else emit(libxl_device_pci_to_json(NULL, &p));
            libxl_device_pci_dispose(&p);
        } else printf("BAD\n");
        fflush(stdout);
    }
    return 0;
}
