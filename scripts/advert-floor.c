/* scripts/advert-floor.c - the floor of per-advert costs (#21), for scripts/per-advert.sh and
 * scripts/cpu-side-by-side.sh: one thread that sleeps to each absolute 10 ms deadline and sends
 * one VRRPv3 advert (VRID 250), as floor_cpu in tests/bench_compare.rs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
int main(void) {
    int s = socket(AF_INET, SOCK_RAW, 112), ttl = 255;
    setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    struct sockaddr_in dst = {.sin_family = AF_INET};
    inet_pton(AF_INET, "224.0.0.18", &dst.sin_addr);
    unsigned char adv[] = {0x31, 250, 100, 1, 0, 1, 0, 0, 10, 0, 0, 250};
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        next.tv_nsec += 10000000;
        if (next.tv_nsec >= 1000000000) { next.tv_nsec -= 1000000000; next.tv_sec++; }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, 0);
        sendto(s, adv, sizeof adv, 0, (struct sockaddr *)&dst, sizeof dst);
    }
}
