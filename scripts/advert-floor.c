/* scripts/advert-floor.c - the floor of per-advert costs (#21), for scripts/per-advert.sh and
 * scripts/cpu-side-by-side.sh: one thread that sleeps to each absolute 10 ms deadline and sends
 * one VRRPv3 advert (VRID 250), as floor_cpu in tests/bench_compare.rs.
 * `advert-floor 2`: the two-thread floor, the shape of vrrpd's advert keeper: two threads, each
 * pinned to a CPU of its own and sending every other advert, one interval apart (the same adverts
 * on the wire and the same number of wake-ups, spread over two CPUs). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

static int threads = 1;
static struct timespec start;

static void *run(void *arg) {
    long k = (long)arg;
    if (threads > 1) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(k, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    int s = socket(AF_INET, SOCK_RAW, 112), ttl = 255;
    setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    struct sockaddr_in dst = {.sin_family = AF_INET};
    inet_pton(AF_INET, "224.0.0.18", &dst.sin_addr);
    unsigned char adv[] = {0x31, 250, 100, 1, 0, 1, 0, 0, 10, 0, 0, 250};
    struct timespec next = start;
    next.tv_nsec += 10000000L * k;
    for (;;) {
        next.tv_nsec += 10000000L * threads;
        while (next.tv_nsec >= 1000000000) { next.tv_nsec -= 1000000000; next.tv_sec++; }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, 0);
        sendto(s, adv, sizeof adv, 0, (struct sockaddr *)&dst, sizeof dst);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && atoi(argv[1]) == 2) threads = 2;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pthread_t t[2];
    for (long k = 0; k < threads; k++) pthread_create(&t[k], 0, run, (void *)k);
    pthread_join(t[0], 0);
    return 0;
}
