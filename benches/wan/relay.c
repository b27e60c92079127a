/*
 * A packet-level delay line between two network interfaces, for the WAN benchmark (run.sh).
 *
 *   relay IFACE_A IFACE_B ONE_WAY_DELAY_US STATS_FILE
 *
 * Every Ethernet frame that arrives on one interface is sent out of the other ONE_WAY_DELAY_US
 * after it arrived, in arrival order (a FIFO per direction; the delay is constant, so order is
 * kept). With 25000 us each way a TCP handshake, a TLS handshake and every request pay a 50 ms
 * round trip, as on a WAN; bandwidth is not limited and nothing is dropped on purpose.
 *
 * The interfaces are the relay namespace's ends of two veth pairs. veth does TSO/GSO and
 * checksum offload, so a frame read from one end can be a 64 KiB TCP super-frame with a partial
 * checksum; PACKET_VNET_HDR hands the relay the offload metadata (gso type/size, checksum
 * start/offset) with each frame, and the same header on send rebuilds the same skb on the other
 * side, so the kernel segments or checksums it exactly as a real NIC would (no ethtool needed).
 *
 * On SIGTERM/SIGINT it writes its statistics as one JSON object to STATS_FILE: frames and bytes
 * per direction, the largest frame, drops, and the lateness of sends against their due time
 * (p50/p99/max, in microseconds), which is the relay's own jitter. Single-threaded: ppoll with a
 * nanosecond timeout to the earliest due frame, 1 ns timer slack, SCHED_FIFO when allowed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define MAX_FRAME (256 * 1024) /* vnet header + a GSO super-frame (64 KiB unless BIG TCP) */
#define QUEUE_CAP 65536        /* frames held per direction (power of two) */
#define HIST_US 200000         /* lateness histogram: 1 us buckets up to 200 ms */

struct frame {
    uint64_t due_ns;
    uint32_t len;
    unsigned char *data;
};

struct dir {
    const char *name;
    int in_fd, out_fd, out_ifindex;
    struct frame q[QUEUE_CAP];
    uint32_t head, tail; /* q[head..tail) pending, indices mod QUEUE_CAP */
    uint64_t frames, bytes, max_len, queue_full, send_errors, truncated, max_queued;
};

static struct dir dirs[2];
static uint32_t lateness_hist[HIST_US + 1];
static uint64_t lateness_n, lateness_max_ns, lateness_sum_ns;
static volatile sig_atomic_t stop_requested;
static unsigned char rxbuf[MAX_FRAME];

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static int open_iface(const char *name, int *ifindex) {
    int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (fd < 0) {
        perror("relay: socket(AF_PACKET)");
        exit(2);
    }
    *ifindex = (int)if_nametoindex(name);
    if (*ifindex == 0) {
        fprintf(stderr, "relay: no interface %s\n", name);
        exit(2);
    }
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) {
        perror("relay: PACKET_VNET_HDR");
        exit(2);
    }
    /* Frames this relay sends out of an interface must not be read back from it. */
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) {
        /* Older kernels: filtered by sll_pkttype below instead. */
    }
    int buf = 32 * 1024 * 1024;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = *ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        perror("relay: bind");
        exit(2);
    }
    return fd;
}

/* Reads every frame waiting on d->in_fd and queues it, due `delay_ns` from now. */
static void drain(struct dir *d, uint64_t delay_ns) {
    for (;;) {
        struct sockaddr_ll from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(d->in_fd, rxbuf, sizeof rxbuf, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN: drained */
        }
        if (from.sll_pkttype == PACKET_OUTGOING)
            continue;
        if ((size_t)n > sizeof rxbuf) {
            d->truncated++;
            continue;
        }
        uint64_t t = now_ns();
        if (d->tail - d->head >= QUEUE_CAP) {
            d->queue_full++;
            continue;
        }
        unsigned char *copy = malloc((size_t)n);
        if (!copy) {
            d->queue_full++;
            continue;
        }
        memcpy(copy, rxbuf, (size_t)n);
        struct frame *f = &d->q[d->tail % QUEUE_CAP];
        f->due_ns = t + delay_ns;
        f->len = (uint32_t)n;
        f->data = copy;
        d->tail++;
        if (d->tail - d->head > d->max_queued)
            d->max_queued = d->tail - d->head;
    }
}

static void send_due(struct dir *d, uint64_t now) {
    while (d->head != d->tail && d->q[d->head % QUEUE_CAP].due_ns <= now) {
        struct frame *f = &d->q[d->head % QUEUE_CAP];
        struct sockaddr_ll to;
        memset(&to, 0, sizeof to);
        to.sll_family = AF_PACKET;
        to.sll_ifindex = d->out_ifindex;
        to.sll_halen = ETH_ALEN;
        if (f->len > sizeof(struct virtio_net_hdr) + ETH_HLEN)
            memcpy(to.sll_addr, f->data + sizeof(struct virtio_net_hdr), ETH_ALEN);
        ssize_t w;
        do {
            w = sendto(d->out_fd, f->data, f->len, 0, (struct sockaddr *)&to, sizeof to);
        } while (w < 0 && errno == EINTR);
        uint64_t sent = now_ns();
        if (w < 0) {
            d->send_errors++;
            if (d->send_errors <= 5)
                fprintf(stderr, "relay: %s: send of a %u-byte frame failed: %s\n", d->name, f->len, strerror(errno));
        } else {
            uint32_t payload = f->len - (uint32_t)sizeof(struct virtio_net_hdr);
            d->frames++;
            d->bytes += payload;
            if (payload > d->max_len)
                d->max_len = payload;
        }
        uint64_t late = sent > f->due_ns ? sent - f->due_ns : 0;
        uint64_t us = late / 1000;
        lateness_hist[us > HIST_US ? HIST_US : us]++;
        lateness_n++;
        lateness_sum_ns += late;
        if (late > lateness_max_ns)
            lateness_max_ns = late;
        free(f->data);
        f->data = NULL;
        d->head++;
    }
}

static uint64_t hist_percentile(double p) {
    if (lateness_n == 0)
        return 0;
    uint64_t rank = (uint64_t)((double)(lateness_n - 1) * p), seen = 0;
    for (uint64_t us = 0; us <= HIST_US; us++) {
        seen += lateness_hist[us];
        if (seen > rank)
            return us;
    }
    return HIST_US;
}

static uint64_t kernel_drops(int fd) {
    struct tpacket_stats st;
    socklen_t len = sizeof st;
    if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
        return 0;
    return st.tp_drops;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: relay IFACE_A IFACE_B ONE_WAY_DELAY_US STATS_FILE\n");
        return 2;
    }
    uint64_t delay_ns = strtoull(argv[3], NULL, 10) * 1000ull;
    const char *stats_path = argv[4];
    int ia, ib;
    int fa = open_iface(argv[1], &ia);
    int fb = open_iface(argv[2], &ib);
    dirs[0].name = "a_to_b", dirs[0].in_fd = fa, dirs[0].out_fd = fb, dirs[0].out_ifindex = ib;
    dirs[1].name = "b_to_a", dirs[1].in_fd = fb, dirs[1].out_fd = fa, dirs[1].out_ifindex = ia;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    int sched = 0;
    struct sched_param sp = {.sched_priority = 10};
    if (sched_setscheduler(0, SCHED_FIFO, &sp) == 0)
        sched = 1;
    mlockall(MCL_CURRENT | MCL_FUTURE);

    /* Block the signals outside ppoll so a stop is seen at once, never lost between checks. */
    sigset_t block, unblocked;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &unblocked);
    sigdelset(&unblocked, SIGTERM);
    sigdelset(&unblocked, SIGINT);

    fprintf(stderr, "relay: %s <-> %s, %llu us each way%s\n", argv[1], argv[2],
            (unsigned long long)(delay_ns / 1000), sched ? ", SCHED_FIFO" : "");
    while (!stop_requested) {
        uint64_t now = now_ns();
        send_due(&dirs[0], now);
        send_due(&dirs[1], now);
        uint64_t next = UINT64_MAX;
        for (int i = 0; i < 2; i++)
            if (dirs[i].head != dirs[i].tail && dirs[i].q[dirs[i].head % QUEUE_CAP].due_ns < next)
                next = dirs[i].q[dirs[i].head % QUEUE_CAP].due_ns;
        struct pollfd pfd[2] = {{.fd = fa, .events = POLLIN}, {.fd = fb, .events = POLLIN}};
        struct timespec ts, *tsp = NULL;
        if (next != UINT64_MAX) {
            now = now_ns();
            uint64_t wait = next > now ? next - now : 0;
            ts.tv_sec = (time_t)(wait / 1000000000ull);
            ts.tv_nsec = (long)(wait % 1000000000ull);
            tsp = &ts;
        }
        int r = ppoll(pfd, 2, tsp, &unblocked);
        if (r > 0) {
            if (pfd[0].revents & POLLIN)
                drain(&dirs[0], delay_ns);
            if (pfd[1].revents & POLLIN)
                drain(&dirs[1], delay_ns);
        }
    }

    FILE *out = fopen(stats_path, "w");
    if (!out) {
        perror("relay: stats file");
        return 1;
    }
    fprintf(out, "{\"one_way_delay_us\":%llu,\"sched_fifo\":%s,\"lateness_us\":{\"n\":%llu,\"mean\":%.1f,\"p50\":%llu,\"p99\":%llu,\"max\":%.1f}",
            (unsigned long long)(delay_ns / 1000), sched ? "true" : "false", (unsigned long long)lateness_n,
            lateness_n ? (double)lateness_sum_ns / (double)lateness_n / 1000.0 : 0.0,
            (unsigned long long)hist_percentile(0.5), (unsigned long long)hist_percentile(0.99), (double)lateness_max_ns / 1000.0);
    for (int i = 0; i < 2; i++) {
        struct dir *d = &dirs[i];
        fprintf(out, ",\"%s\":{\"frames\":%llu,\"bytes\":%llu,\"max_frame\":%llu,\"max_queued\":%llu,\"kernel_drops\":%llu,\"queue_full\":%llu,\"send_errors\":%llu,\"truncated\":%llu}",
                d->name, (unsigned long long)d->frames, (unsigned long long)d->bytes, (unsigned long long)d->max_len,
                (unsigned long long)d->max_queued, (unsigned long long)kernel_drops(d->in_fd), (unsigned long long)d->queue_full,
                (unsigned long long)d->send_errors, (unsigned long long)d->truncated);
    }
    fprintf(out, "}\n");
    fclose(out);
    return 0;
}
