/*
 * loadgen.c - epoll WebSocket reader load generator for the ticker benchmark.
 *
 * Opens N WebSocket connections to one server on the loopback, performs the
 * HTTP upgrade, subscribes (by URL, or by joining the Socket.IO namespace), and
 * parses every server frame. Each published item's text carries a marker
 * "bench:<seq>:<send_time_ns>" (CLOCK_REALTIME, written by the publisher right
 * before it sends the HTTP request). For each delivery the loadgen checks loss,
 * duplicates, order and latency (receive time - send time). Order is the server's
 * order (publishes in flight may reach it in any order): an item's rank is the order
 * of its first arrival at any reader, and each reader must see ranks 0, 1, 2, ...
 *
 * Dialects:
 *   json  ticker / raw ws / starlette: one JSON object per text frame
 *   sio   Socket.IO 4 over Engine.IO v4 websocket transport (0 open, 40 join,
 *         2 ping -> 3 pong, 42["item",{...}] events)
 *
 * Control: line commands on stdin, JSON lines on stdout.
 *   phase NAME LO HI   start measuring items with seq in [LO, HI]
 *   end                the publisher is done; report when every reader has
 *                      every item, or after --idle-ms without a delivery, or
 *                      after --max-drain-ms
 *   quit               close everything and exit
 *   drop               close every reader's socket at once (no close frame: a proxy or a
 *                      deploy cutting them); reports {"event":"dropped"}
 *   storm LO HI C CUR  reconnect every reader at once, at most C handshakes in flight, and
 *                      measure items [LO, HI] (published while they were away) as a phase;
 *                      CUR=1 resumes each reader from the last cursor it saw (json dialect:
 *                      /ws?...&since=CURSOR). The phase ends when every reader is ready and
 *                      has every item (HI < LO: no items, only the reconnect)
 *
 * Per item of a phase it also reports the time from the publish request to the LAST reader
 * that got it ("ttl": time to last reader), the number the one-flash case is judged by.
 *
 * Build: cc -O2 -o loadgen loadgen.c -lz
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define STDIN_TAG UINT64_MAX
#define MAX_FRAME (64u * 1024u * 1024u)
#define MAX_HANDSHAKE 16384u

enum dialect { D_JSON = 0, D_SIO = 1 };
enum ready_mode { R_OPEN = 0, R_ACK = 1 };
enum state { S_IDLE = 0, S_CONNECTING, S_HANDSHAKE, S_OPEN, S_CLOSED };

struct conn {
    int fd;
    uint8_t state;
    uint8_t ready;
    uint8_t deflate;      /* permessage-deflate negotiated */
    uint8_t in_msg;       /* assembling a fragmented message */
    uint8_t msg_compressed;
    uint8_t msg_op;
    uint8_t attempts;
    uint8_t *buf;         /* unparsed bytes from the socket */
    uint32_t len, cap;
    uint8_t *msg;         /* fragmented message assembly */
    uint32_t msg_len, msg_cap;
    z_stream *zs;
    double last_rank;     /* feed-order rank of the last item seen this phase */
    uint8_t has_last;     /* ... if any */
    uint32_t got;         /* unique deliveries in the current phase */
    char cursor[48];      /* the last cursor this reader saw (json dialect), for resumes */
};

/* options */
static const char *opt_host = "127.0.0.1";
static int opt_port = 0;
static const char *opt_path = NULL;
static int opt_n = 1000;
static int opt_concurrency = 256;
static int opt_deflate = 0;
static int opt_dialect = D_JSON;
static int opt_ready = R_OPEN;
static const char *opt_ack = "\"subscribed\"";
static int opt_src_ips = 1;
static int opt_connect_timeout_ms = 120000;
static int opt_idle_ms = 5000;
static int opt_max_drain_ms = 60000;
static int opt_retries = 3;
static int opt_bufsize = 16384;

/* global state */
static struct conn *conns;
static int epfd;
static int n_started, n_ready, n_failed, n_inflight, n_open, n_deflate;
static int n_closed_after_ready;
static int close_codes[8];          /* 1000, 1001, 1008, 1009, 1011, 1012, 1013, other */
static int64_t t_connect_start, t_all_ready;
static int ready_reported;
static uint8_t *zout;               /* shared inflate output buffer */
static uint32_t zout_cap;
static uint64_t total_reads, total_bytes, total_frames, total_msgs;
static uint64_t pings_answered;
static int quit_requested;

/* phase */
static int phase_active, phase_ended;
static char phase_name[64];
static int64_t phase_lo, phase_hi;
static uint32_t phase_count;        /* items in range */
static uint64_t *bitmap;            /* n * words */
/* The feed's order is the order the server chose, not the publisher's seq order (8 publishes
 * in flight may reach the server in any order). The loadgen learns it from the readers: when an
 * item first arrives anywhere, it is ranked right after the item that reader had before it
 * (between that item and the next ranked one), or after every ranked item if the reader had none.
 * A server that sends every reader the same order gives every reader rising ranks (even when a
 * reader misses an item); an arrival ranked below the reader's previous one is out of order. */
static double *ref_rank;            /* per item in range */
static uint8_t *ref_set;            /* per item: ranked yet? */
static double rank_max;
static int any_ranked;
static uint32_t bm_words;
static uint64_t ph_unique, ph_dup, ph_ooo, ph_stray, ph_frames, ph_bytes, ph_reads;
static uint64_t ph_expected;
static int ph_conns_at_start, ph_closed_during;
static int64_t ph_first_send, ph_last_recv, ph_first_recv, ph_last_delivery_wall;
static int64_t ph_start_wall, ph_end_wall;
static struct rusage ph_ru0;
static uint32_t *lat_us;
static uint64_t lat_n, lat_cap;
static uint64_t stray_total;
/* per item of the phase: publish send time and the last / first delivery, deliveries */
static int64_t *item_send, *item_last, *item_first;
static uint32_t *item_got;
/* a reconnect storm in progress */
static int storm_active, storm_cursors;
static int64_t storm_start_real, storm_start_mono;
static char path_buf[1024];

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double ru_cpu(const struct rusage *r) {
    return (double)r->ru_utime.tv_sec + r->ru_utime.tv_usec / 1e6 +
           (double)r->ru_stime.tv_sec + r->ru_stime.tv_usec / 1e6;
}

static void emit(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

static void die(const char *msg) {
    emit("{\"event\":\"fatal\",\"message\":\"%s\",\"errno\":%d}", msg, errno);
    exit(2);
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) die("out of memory");
    return q;
}

/* ---------------------------------------------------------------- sending */

static uint32_t mask_state = 0x9e3779b9u;

static uint32_t next_mask(void) {
    mask_state ^= mask_state << 13;
    mask_state ^= mask_state >> 17;
    mask_state ^= mask_state << 5;
    return mask_state;
}

/* Send one small masked client frame (payload < 126 bytes). Best effort: a
 * fresh loopback socket always has room for a few dozen bytes. */
static void send_frame(struct conn *c, int opcode, const uint8_t *payload, size_t n) {
    uint8_t f[2 + 4 + 125];
    if (n > 125 || c->state != S_OPEN) return;
    uint32_t m = next_mask();
    uint8_t mk[4] = {(uint8_t)(m >> 24), (uint8_t)(m >> 16), (uint8_t)(m >> 8), (uint8_t)m};
    f[0] = (uint8_t)(0x80 | opcode);
    f[1] = (uint8_t)(0x80 | n);
    memcpy(f + 2, mk, 4);
    for (size_t i = 0; i < n; i++) f[6 + i] = payload[i] ^ mk[i & 3];
    ssize_t w = write(c->fd, f, 6 + n);
    (void)w;
}

static void send_text(struct conn *c, const char *s) {
    send_frame(c, 1, (const uint8_t *)s, strlen(s));
}

/* ------------------------------------------------------------ connections */

static void conn_free_buffers(struct conn *c) {
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
    free(c->msg);
    c->msg = NULL;
    c->msg_len = c->msg_cap = 0;
    c->in_msg = 0;
    if (c->zs) {
        inflateEnd(c->zs);
        free(c->zs);
        c->zs = NULL;
    }
}

static void start_connect(int i);

static void conn_close(struct conn *c, int failed) {
    int i = (int)(c - conns);
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    int was_ready = c->ready;
    if (c->state == S_OPEN) n_open--;
    if (c->deflate) n_deflate--;
    c->deflate = 0;
    if (!was_ready && c->state != S_CLOSED && c->state != S_IDLE) n_inflight--;
    c->state = S_CLOSED;
    conn_free_buffers(c);
    if (was_ready) {
        c->ready = 0;
        n_ready--;
        n_closed_after_ready++;
        if (phase_active) ph_closed_during++;
        return;
    }
    if (failed) {
        if (c->attempts < opt_retries && !quit_requested) {
            start_connect(i);
        } else {
            n_failed++;
        }
    }
}

static void start_connect(int i) {
    struct conn *c = &conns[i];
    c->attempts++;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket() failed (raise ulimit -n?)");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (opt_src_ips > 1) {
        struct sockaddr_in src = {0};
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i % opt_src_ips));
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) die("bind() failed");
    }
    struct sockaddr_in dst = {0};
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)opt_port);
    if (inet_pton(AF_INET, opt_host, &dst.sin_addr) != 1) die("bad --host");
    c->fd = fd;
    c->state = S_CONNECTING;
    c->ready = 0;
    c->len = 0;
    c->has_last = 0;
    c->got = 0;
    n_inflight++;
    int r = connect(fd, (struct sockaddr *)&dst, sizeof dst);
    if (r < 0 && errno != EINPROGRESS) {
        conn_close(c, 1);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)i};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
}

static void send_handshake(struct conn *c) {
    char req[2048];
    const char *path = opt_path;
    if (storm_active && storm_cursors && c->cursor[0]) {
        snprintf(path_buf, sizeof path_buf, "%s%ssince=%s", opt_path,
                 strchr(opt_path, '?') ? "&" : "?", c->cursor);
        path = path_buf;
    }
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s:%d\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "Origin: http://%s:%d\r\n"
                     "User-Agent: ticker-bench-loadgen\r\n"
                     "%s"
                     "\r\n",
                     path, opt_host, opt_port, opt_host, opt_port,
                     opt_deflate ? "Sec-WebSocket-Extensions: permessage-deflate; "
                                   "client_max_window_bits\r\n"
                                 : "");
    ssize_t w = write(c->fd, req, (size_t)n);
    if (w != n) {
        conn_close(c, 1);
        return;
    }
    c->state = S_HANDSHAKE;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(c - conns)};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void mark_ready(struct conn *c) {
    if (c->ready) return;
    c->ready = 1;
    n_ready++;
    n_inflight--;
    c->has_last = 0;
    c->got = 0;
}

/* -------------------------------------------------------------- deliveries */

static void record_delivery(struct conn *c, int64_t seq, int64_t send_ns, int64_t recv_ns) {
    if (!phase_active || seq < phase_lo || seq > phase_hi) {
        ph_stray += phase_active;
        stray_total++;
        return;
    }
    uint32_t idx = (uint32_t)(seq - phase_lo);
    uint64_t *bm = bitmap + (size_t)(c - conns) * bm_words;
    uint64_t bit = 1ULL << (idx & 63);
    if (bm[idx >> 6] & bit) {
        ph_dup++;
        return;
    }
    bm[idx >> 6] |= bit;
    ph_unique++;
    c->got++;
    item_got[idx]++;
    item_send[idx] = send_ns;
    if (recv_ns > item_last[idx]) item_last[idx] = recv_ns;
    if (!item_first[idx] || recv_ns < item_first[idx]) item_first[idx] = recv_ns;
    if (!ref_set[idx]) {
        double r;
        if (c->has_last) {
            /* between the reader's previous item and the next ranked item after it */
            double succ = 0;
            int have_succ = 0;
            for (uint32_t k = 0; k < phase_count; k++)
                if (ref_set[k] && ref_rank[k] > c->last_rank && (!have_succ || ref_rank[k] < succ)) {
                    succ = ref_rank[k];
                    have_succ = 1;
                }
            r = have_succ ? (c->last_rank + succ) / 2 : c->last_rank + 1;
        } else {
            r = any_ranked ? rank_max + 1 : 0;
        }
        ref_rank[idx] = r;
        ref_set[idx] = 1;
        if (!any_ranked || r > rank_max) rank_max = r;
        any_ranked = 1;
    }
    double rank = ref_rank[idx];
    if (c->has_last && rank < c->last_rank) {
        ph_ooo++;
    } else {
        c->last_rank = rank;
        c->has_last = 1;
    }
    int64_t l = recv_ns - send_ns;
    if (l < 0) l = 0;
    if (lat_n == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : (1u << 20);
        lat_us = xrealloc(lat_us, lat_cap * sizeof *lat_us);
    }
    uint64_t us = (uint64_t)l / 1000u;
    lat_us[lat_n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    if (ph_first_send == 0 || send_ns < ph_first_send) ph_first_send = send_ns;
    if (ph_first_recv == 0 || recv_ns < ph_first_recv) ph_first_recv = recv_ns;
    if (recv_ns > ph_last_recv) ph_last_recv = recv_ns;
    ph_last_delivery_wall = mono_ns();
}

/* Find "bench:<seq>:<ns>" in a message and record it. */
static void scan_marker(struct conn *c, const uint8_t *p, size_t n, int64_t recv_ns) {
    const uint8_t *m = memmem(p, n, "bench:", 6);
    if (!m) return;
    const uint8_t *e = p + n;
    const uint8_t *q = m + 6;
    int64_t seq = 0, ts = 0;
    int digits = 0;
    while (q < e && *q >= '0' && *q <= '9') {
        seq = seq * 10 + (*q++ - '0');
        digits++;
    }
    if (!digits || q >= e || *q != ':') return;
    q++;
    digits = 0;
    while (q < e && *q >= '0' && *q <= '9') {
        ts = ts * 10 + (*q++ - '0');
        digits++;
    }
    if (!digits) return;
    record_delivery(c, seq, ts, recv_ns);
}

static void on_message(struct conn *c, const uint8_t *p, size_t n, int64_t recv_ns) {
    total_msgs++;
    if (opt_dialect == D_SIO) {
        if (n >= 2 && p[0] == '4' && p[1] == '2') {
            scan_marker(c, p, n, recv_ns);
        } else if (n == 1 && p[0] == '2') {
            send_text(c, "3");
            pings_answered++;
        } else if (n >= 1 && p[0] == '0') {
            send_text(c, "40");
        } else if (n >= 2 && p[0] == '4' && p[1] == '0') {
            mark_ready(c);
        } else if (n >= 1 && p[0] == '1') {
            conn_close(c, 0); /* engine close */
        }
        return;
    }
    /* JSON dialect: ignore snapshots (they repeat earlier items) */
    if (n > 8 && p[0] == '{') {
        const uint8_t *cur = memmem(p, n < 160 ? n : 160, "\"cursor\":\"", 10);
        if (cur) {
            const uint8_t *v = cur + 10, *e = p + n;
            size_t k = 0;
            while (v + k < e && v[k] != '"' && k < sizeof c->cursor - 1) k++;
            memcpy(c->cursor, v, k);
            c->cursor[k] = 0;
        }
        if (!c->ready && opt_ready == R_ACK && memmem(p, n, opt_ack, strlen(opt_ack))) {
            mark_ready(c);
            return;
        }
        if (memmem(p, n < 64 ? n : 64, "snapshot", 8)) return;
        scan_marker(c, p, n, recv_ns);
    }
}

static int inflate_message(struct conn *c, const uint8_t *p, size_t n, size_t *outn) {
    static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
    if (!c->zs) return -1;
    if (!zout) {
        zout_cap = 1u << 20;
        zout = xrealloc(NULL, zout_cap);
    }
    z_stream *zs = c->zs;
    size_t produced = 0;
    for (int part = 0; part < 2; part++) {
        zs->next_in = (Bytef *)(part == 0 ? p : tail);
        zs->avail_in = (uInt)(part == 0 ? n : 4);
        while (zs->avail_in > 0) {
            if (produced == zout_cap) {
                zout_cap *= 2;
                zout = xrealloc(zout, zout_cap);
            }
            zs->next_out = zout + produced;
            zs->avail_out = (uInt)(zout_cap - produced);
            int r = inflate(zs, Z_SYNC_FLUSH);
            produced = zout_cap - zs->avail_out;
            if (r == Z_STREAM_END) {
                inflateReset(zs);
                if (part == 0 && zs->avail_in == 0) part = 1; /* no tail needed */
                break;
            }
            if (r == Z_BUF_ERROR && zs->avail_out != 0) break;
            if (r != Z_OK && r != Z_BUF_ERROR) return -1;
        }
    }
    *outn = produced;
    return 0;
}

static void complete_message(struct conn *c, int compressed, const uint8_t *p, size_t n,
                             int64_t recv_ns) {
    if (compressed) {
        size_t outn = 0;
        if (inflate_message(c, p, n, &outn) < 0) {
            emit("{\"event\":\"warn\",\"message\":\"inflate failed\"}");
            conn_close(c, 0);
            return;
        }
        on_message(c, zout, outn, recv_ns);
    } else {
        on_message(c, p, n, recv_ns);
    }
}

static void count_close(const uint8_t *p, size_t n) {
    int code = n >= 2 ? (p[0] << 8 | p[1]) : 1005;
    int k;
    switch (code) {
    case 1000: k = 0; break;
    case 1001: k = 1; break;
    case 1008: k = 2; break;
    case 1009: k = 3; break;
    case 1011: k = 4; break;
    case 1012: k = 5; break;
    case 1013: k = 6; break;
    default: k = 7;
    }
    close_codes[k]++;
}

/* Returns 0 to continue, -1 if the connection was closed. */
static int on_frame(struct conn *c, int fin, int rsv1, int op, const uint8_t *p, size_t n,
                    int64_t recv_ns) {
    total_frames++;
    if (phase_active) ph_frames++;
    if (op >= 8) {
        if (op == 8) {
            count_close(p, n);
            conn_close(c, 0);
            return -1;
        }
        if (op == 9) send_frame(c, 10, p, n); /* pong */
        return 0;
    }
    if (op == 0) {
        if (!c->in_msg) goto proto;
        if ((size_t)c->msg_len + n > MAX_FRAME) goto proto;
        if (c->msg_len + n > c->msg_cap) {
            c->msg_cap = (uint32_t)(c->msg_len + n) * 2;
            c->msg = xrealloc(c->msg, c->msg_cap);
        }
        memcpy(c->msg + c->msg_len, p, n);
        c->msg_len += (uint32_t)n;
        if (fin) {
            c->in_msg = 0;
            complete_message(c, c->msg_compressed, c->msg, c->msg_len, recv_ns);
            if (c->state != S_OPEN) return -1;
            c->msg_len = 0;
        }
        return 0;
    }
    if (op != 1 && op != 2) goto proto;
    if (c->in_msg) goto proto;
    if (rsv1 && !c->deflate) goto proto;
    if (fin) {
        complete_message(c, rsv1, p, n, recv_ns);
        return c->state == S_OPEN ? 0 : -1;
    }
    c->in_msg = 1;
    c->msg_compressed = (uint8_t)rsv1;
    c->msg_op = (uint8_t)op;
    if (n > c->msg_cap) {
        c->msg_cap = (uint32_t)n * 2 + 256;
        c->msg = xrealloc(c->msg, c->msg_cap);
    }
    memcpy(c->msg, p, n);
    c->msg_len = (uint32_t)n;
    return 0;
proto:
    emit("{\"event\":\"warn\",\"message\":\"protocol error op=%d\"}", op);
    conn_close(c, 0);
    return -1;
}

/* Parse every complete frame in c->buf; keep the partial tail. */
static void parse_frames(struct conn *c, int64_t recv_ns) {
    uint8_t *b = c->buf;
    size_t len = c->len, off = 0;
    while (len - off >= 2) {
        uint8_t *h = b + off;
        int fin = h[0] & 0x80, rsv1 = (h[0] & 0x40) != 0, op = h[0] & 0x0f;
        int masked = h[1] & 0x80;
        uint64_t plen = h[1] & 0x7f;
        size_t hdr = 2;
        if (plen == 126) {
            if (len - off < 4) break;
            plen = (uint64_t)h[2] << 8 | h[3];
            hdr = 4;
        } else if (plen == 127) {
            if (len - off < 10) break;
            plen = 0;
            for (int k = 0; k < 8; k++) plen = plen << 8 | h[2 + k];
            hdr = 10;
        }
        if (plen > MAX_FRAME) {
            emit("{\"event\":\"warn\",\"message\":\"frame too large\"}");
            conn_close(c, 0);
            return;
        }
        size_t mhdr = hdr + (masked ? 4 : 0);
        size_t need = mhdr + (size_t)plen;
        if (len - off < need) {
            if (need > c->cap) { /* make room for the whole frame */
                if (off) {
                    memmove(b, b + off, len - off);
                    len -= off;
                    off = 0;
                }
                c->cap = (uint32_t)need + 1024;
                c->buf = b = xrealloc(b, c->cap);
            }
            break;
        }
        uint8_t *payload = h + mhdr;
        if (masked) {
            uint8_t *mk = h + hdr;
            for (uint64_t k = 0; k < plen; k++) payload[k] ^= mk[k & 3];
        }
        off += need;
        if (on_frame(c, fin, rsv1, op, payload, (size_t)plen, recv_ns) < 0) return;
    }
    if (off) {
        memmove(b, b + off, len - off);
        len -= off;
    }
    c->len = (uint32_t)len;
}

static int header_has_token(const char *hdrs, const char *name, const char *token) {
    /* case-insensitive search for a header line "name: ...token..." */
    size_t nl = strlen(name);
    const char *p = hdrs;
    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *e = strstr(p, "\r\n");
            size_t ll = e ? (size_t)(e - p) : strlen(p);
            char line[1024];
            if (ll >= sizeof line) ll = sizeof line - 1;
            memcpy(line, p, ll);
            line[ll] = 0;
            for (char *q = line; *q; q++) *q = (char)tolower((unsigned char)*q);
            if (strstr(line, token)) return 1;
        }
    }
    return 0;
}

static void on_handshake_data(struct conn *c, int64_t recv_ns) {
    uint8_t *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end) {
        if (c->len >= MAX_HANDSHAKE) conn_close(c, 1);
        return;
    }
    size_t hlen = (size_t)(end - c->buf) + 4;
    char *hdrs = malloc(hlen + 1);
    if (!hdrs) die("out of memory");
    memcpy(hdrs, c->buf, hlen);
    hdrs[hlen] = 0;
    if (strncmp(hdrs, "HTTP/1.1 101", 12) != 0) {
        if (n_failed < 3) {
            char first[128];
            size_t k = 0;
            while (k < sizeof first - 1 && hdrs[k] && hdrs[k] != '\r' && hdrs[k] != '"') {
                first[k] = hdrs[k];
                k++;
            }
            first[k] = 0;
            emit("{\"event\":\"warn\",\"message\":\"handshake refused: %s\"}", first);
        }
        free(hdrs);
        conn_close(c, 1);
        return;
    }
    if (opt_deflate && header_has_token(hdrs, "sec-websocket-extensions", "permessage-deflate")) {
        c->zs = calloc(1, sizeof *c->zs);
        if (!c->zs || inflateInit2(c->zs, -15) != Z_OK) die("inflateInit2");
        c->deflate = 1;
        n_deflate++;
    }
    free(hdrs);
    memmove(c->buf, c->buf + hlen, c->len - hlen);
    c->len -= (uint32_t)hlen;
    c->state = S_OPEN;
    n_open++;
    if (opt_dialect == D_JSON && opt_ready == R_OPEN) mark_ready(c);
    if (c->len) parse_frames(c, recv_ns);
}

static void on_readable(struct conn *c) {
    if (!c->buf) {
        c->cap = (uint32_t)opt_bufsize;
        c->buf = xrealloc(NULL, c->cap);
        c->len = 0;
    }
    if (c->len == c->cap) {
        c->cap *= 2;
        c->buf = xrealloc(c->buf, c->cap);
    }
    ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
        conn_close(c, !c->ready);
        return;
    }
    int64_t t = now_ns();
    total_reads++;
    total_bytes += (uint64_t)r;
    if (phase_active) {
        ph_reads++;
        ph_bytes += (uint64_t)r;
    }
    c->len += (uint32_t)r;
    if (c->state == S_HANDSHAKE)
        on_handshake_data(c, t);
    else
        parse_frames(c, t);
}

static void on_event(uint32_t i, uint32_t events) {
    struct conn *c = &conns[i];
    if (c->state == S_CONNECTING) {
        if (events & (EPOLLERR | EPOLLHUP)) {
            conn_close(c, 1);
            return;
        }
        if (events & EPOLLOUT) {
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err) {
                conn_close(c, 1);
                return;
            }
            send_handshake(c);
        }
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
}

/* ----------------------------------------------------------------- phases */

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double q_ms(double q) {
    if (!lat_n) return 0;
    uint64_t k = (uint64_t)(q * (double)(lat_n - 1) + 0.5);
    if (k >= lat_n) k = lat_n - 1;
    return lat_us[k] / 1000.0;
}

static void phase_begin(const char *name, int64_t lo, int64_t hi) {
    if (hi < lo - 1 || hi - lo > 1000000) {
        emit("{\"event\":\"warn\",\"message\":\"bad phase range\"}");
        return;
    }
    snprintf(phase_name, sizeof phase_name, "%s", name);
    phase_lo = lo;
    phase_hi = hi;
    phase_count = (uint32_t)(hi - lo + 1);
    bm_words = (phase_count + 63) / 64 + 1;
    free(bitmap);
    bitmap = calloc((size_t)opt_n * bm_words, sizeof *bitmap);
    if (!bitmap) die("out of memory");
    for (int i = 0; i < opt_n; i++) {
        conns[i].has_last = 0;
        conns[i].got = 0;
    }
    free(ref_rank);
    free(ref_set);
    ref_rank = calloc(phase_count + 1, sizeof *ref_rank);
    ref_set = calloc(phase_count + 1, 1);
    if (!ref_rank || !ref_set) die("out of memory");
    free(item_send);
    free(item_last);
    free(item_first);
    free(item_got);
    item_send = calloc(phase_count + 1, sizeof *item_send);
    item_last = calloc(phase_count + 1, sizeof *item_last);
    item_first = calloc(phase_count + 1, sizeof *item_first);
    item_got = calloc(phase_count + 1, sizeof *item_got);
    if (!item_send || !item_last || !item_first || !item_got) die("out of memory");
    any_ranked = 0;
    rank_max = 0;
    ph_unique = ph_dup = ph_ooo = ph_stray = ph_frames = ph_bytes = ph_reads = 0;
    ph_conns_at_start = n_ready;
    ph_expected = (uint64_t)n_ready * phase_count;
    ph_closed_during = 0;
    ph_first_send = ph_last_recv = ph_first_recv = 0;
    ph_last_delivery_wall = 0;
    ph_start_wall = mono_ns();
    ph_end_wall = 0;
    lat_n = 0;
    getrusage(RUSAGE_SELF, &ph_ru0);
    phase_active = 1;
    phase_ended = 0;
}

static void phase_report(const char *reason) {
    struct rusage ru1;
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = ru_cpu(&ru1) - ru_cpu(&ph_ru0);
    double ucpu = (double)(ru1.ru_utime.tv_sec - ph_ru0.ru_utime.tv_sec) +
                  (ru1.ru_utime.tv_usec - ph_ru0.ru_utime.tv_usec) / 1e6;
    double wall = (mono_ns() - ph_start_wall) / 1e9;
    double span = ph_last_recv > ph_first_send ? (ph_last_recv - ph_first_send) / 1e9 : 0;
    double recv_span = ph_last_recv > ph_first_recv ? (ph_last_recv - ph_first_recv) / 1e9 : 0;
    double sum = 0;
    for (uint64_t k = 0; k < lat_n; k++) sum += lat_us[k];
    qsort(lat_us, lat_n, sizeof *lat_us, cmp_u32);
    uint64_t lost = ph_expected > ph_unique ? ph_expected - ph_unique : 0;
    printf("{\"event\":\"phase\",\"name\":\"%s\",\"reason\":\"%s\",\"lo\":%lld,\"hi\":%lld,"
           "\"items\":%u,\"conns\":%d,\"expected\":%llu,\"deliveries\":%llu,\"lost\":%llu,"
           "\"dup\":%llu,\"out_of_order\":%llu,\"stray\":%llu,"
           "\"closed_during\":%d,\"frames\":%llu,\"bytes\":%llu,\"reads\":%llu,"
           "\"first_send_ns\":%lld,\"first_recv_ns\":%lld,\"last_recv_ns\":%lld,"
           "\"span_s\":%.6f,\"recv_span_s\":%.6f,\"deliveries_per_s\":%.1f,"
           "\"lat_ms\":{\"min\":%.3f,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
           "\"max\":%.3f,\"mean\":%.3f},"
           "\"loadgen_cpu_s\":%.4f,\"loadgen_user_s\":%.4f,\"loadgen_wall_s\":%.4f,"
           "\"loadgen_util\":%.4f,\"loadgen_us_per_delivery\":%.4f,\"cdf\":[",
           phase_name, reason, (long long)phase_lo, (long long)phase_hi, phase_count,
           ph_conns_at_start, (unsigned long long)ph_expected, (unsigned long long)ph_unique,
           (unsigned long long)lost, (unsigned long long)ph_dup, (unsigned long long)ph_ooo,
           (unsigned long long)ph_stray, ph_closed_during,
           (unsigned long long)ph_frames, (unsigned long long)ph_bytes,
           (unsigned long long)ph_reads, (long long)ph_first_send, (long long)ph_first_recv,
           (long long)ph_last_recv, span, recv_span, span > 0 ? ph_unique / span : 0.0,
           lat_n ? lat_us[0] / 1000.0 : 0.0, q_ms(0.5), q_ms(0.9), q_ms(0.99), q_ms(0.999),
           lat_n ? lat_us[lat_n - 1] / 1000.0 : 0.0, lat_n ? sum / lat_n / 1000.0 : 0.0, cpu,
           ucpu, wall, span > 0 ? cpu / span : 0.0, ph_unique ? cpu * 1e6 / ph_unique : 0.0);
    /* CDF: 200 evenly spaced quantiles plus the far tail */
    for (int k = 0; k <= 200; k++) printf("%s[%.3f,%.4f]", k ? "," : "", q_ms(k / 200.0), k / 200.0);
    printf(",[%.3f,0.999],[%.3f,0.9999]]", q_ms(0.999), q_ms(0.9999));
    /* time to the last (and first) reader per item, and the storm's own clock */
    printf(",\"items_ttl_ms\":[");
    for (uint32_t k = 0; k < phase_count; k++)
        printf("%s%.3f", k ? "," : "",
               item_got[k] ? (item_last[k] - item_send[k]) / 1e6 : -1.0);
    printf("],\"items_ttfr_ms\":[");
    for (uint32_t k = 0; k < phase_count; k++)
        printf("%s%.3f", k ? "," : "",
               item_got[k] ? (item_first[k] - item_send[k]) / 1e6 : -1.0);
    printf("],\"items_got\":[");
    for (uint32_t k = 0; k < phase_count; k++) printf("%s%u", k ? "," : "", item_got[k]);
    printf("]");
    if (storm_active) {
        /* resumed: every reader ready and every missed item delivered, from the first connect */
        int64_t ready_ns = ready_reported ? t_all_ready - storm_start_mono : -1;
        int64_t last_ns = ph_last_recv > storm_start_real ? ph_last_recv - storm_start_real : 0;
        int64_t resumed_ns = ready_ns < 0 ? -1 : (last_ns > ready_ns ? last_ns : ready_ns);
        printf(",\"storm\":{\"cursors\":%d,\"start_ns\":%lld,\"all_ready_s\":%.6f,"
               "\"resumed_s\":%.6f,\"ready\":%d,\"failed\":%d}",
               storm_cursors, (long long)storm_start_real, ready_ns / 1e9, resumed_ns / 1e9,
               n_ready, n_failed);
        storm_active = 0;
    }
    printf(",\"close_codes\":{\"1000\":%d,\"1001\":%d,\"1008\":%d,\"1009\":%d,\"1011\":%d,"
           "\"1012\":%d,\"1013\":%d,\"other\":%d}}\n",
           close_codes[0], close_codes[1], close_codes[2], close_codes[3], close_codes[4],
           close_codes[5], close_codes[6], close_codes[7]);
    fflush(stdout);
    phase_active = 0;
    phase_ended = 0;
}

static void phase_check(void) {
    if (!phase_active || !phase_ended) return;
    int64_t t = mono_ns();
    uint64_t expected_now = ph_expected; /* closed readers still count as loss */
    int all_in = !storm_active || ready_reported;
    if (ph_unique >= expected_now && all_in) {
        phase_report("complete");
    } else if (all_in && t - (ph_last_delivery_wall > ph_end_wall ? ph_last_delivery_wall
                                                                    : ph_end_wall) >
                             (int64_t)opt_idle_ms * 1000000) {
        phase_report("idle");
    } else if (t - ph_end_wall > (int64_t)opt_max_drain_ms * 1000000) {
        phase_report("timeout");
    }
}

/* ------------------------------------------------------------------ stdin */

static char inbuf[4096];
static size_t inlen;

static void on_command(char *line) {
    char name[64];
    long long lo, hi;
    int conc, cur;
    if (sscanf(line, "phase %63s %lld %lld", name, &lo, &hi) == 3) {
        phase_begin(name, lo, hi);
    } else if (strcmp(line, "end") == 0) {
        if (phase_active) {
            phase_ended = 1;
            ph_end_wall = mono_ns();
        }
    } else if (strcmp(line, "drop") == 0) {
        int closed = 0;
        for (int i = 0; i < opt_n; i++) {
            struct conn *c = &conns[i];
            if (c->fd < 0) continue;
            epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->fd = -1;
            conn_free_buffers(c);
            if (c->state == S_OPEN) n_open--;
            if (c->deflate) n_deflate--;
            c->deflate = 0;
            c->state = S_IDLE;
            c->ready = 0;
            closed++;
        }
        n_ready = n_inflight = 0;
        emit("{\"event\":\"dropped\",\"closed\":%d}", closed);
    } else if (sscanf(line, "storm %lld %lld %d %d", &lo, &hi, &conc, &cur) == 4) {
        phase_begin("storm", lo, hi);
        ph_conns_at_start = opt_n;
        ph_expected = (uint64_t)opt_n * phase_count;
        storm_active = 1;
        storm_cursors = cur;
        opt_concurrency = conc > 0 ? conc : opt_concurrency;
        for (int i = 0; i < opt_n; i++) conns[i].attempts = 0;
        n_started = n_ready = n_failed = n_inflight = 0;
        ready_reported = 0;
        storm_start_real = now_ns();
        storm_start_mono = t_connect_start = mono_ns();
        phase_ended = 1;
        ph_end_wall = mono_ns();
    } else if (strcmp(line, "quit") == 0) {
        quit_requested = 1;
    } else if (strcmp(line, "stats") == 0) {
        emit("{\"event\":\"stats\",\"ready\":%d,\"open\":%d,\"failed\":%d,"
             "\"closed_after_ready\":%d,\"stray\":%llu}",
             n_ready, n_open, n_failed, n_closed_after_ready, (unsigned long long)stray_total);
    } else if (line[0]) {
        emit("{\"event\":\"warn\",\"message\":\"unknown command\"}");
    }
}

static void on_stdin(void) {
    ssize_t r = read(0, inbuf + inlen, sizeof inbuf - 1 - inlen);
    if (r <= 0) {
        if (r < 0 && errno == EAGAIN) return;
        quit_requested = 1; /* stdin closed: the driver is gone */
        epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL);
        return;
    }
    inlen += (size_t)r;
    char *s = inbuf, *nl;
    while ((nl = memchr(s, '\n', inlen - (size_t)(s - inbuf))) != NULL) {
        *nl = 0;
        on_command(s);
        s = nl + 1;
    }
    inlen -= (size_t)(s - inbuf);
    memmove(inbuf, s, inlen);
    if (inlen == sizeof inbuf - 1) inlen = 0;
}

/* ------------------------------------------------------------------- main */

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen --port P [--host 127.0.0.1] [--n N] [--dialect json|sio]\n"
            "               [--path /ws?feed=en] [--ready open|ack] [--ack STRING]\n"
            "               [--deflate] [--concurrency 256] [--src-ips 1]\n"
            "               [--idle-ms 5000] [--max-drain-ms 60000]\n"
            "               [--connect-timeout-ms 120000]\n");
    exit(64);
}

int main(int argc, char **argv) {
    static struct option lo[] = {
        {"host", 1, 0, 'h'},         {"port", 1, 0, 'p'},       {"path", 1, 0, 'P'},
        {"n", 1, 0, 'n'},            {"dialect", 1, 0, 'd'},    {"ready", 1, 0, 'r'},
        {"ack", 1, 0, 'a'},          {"deflate", 0, 0, 'z'},    {"concurrency", 1, 0, 'c'},
        {"src-ips", 1, 0, 's'},      {"idle-ms", 1, 0, 'i'},    {"max-drain-ms", 1, 0, 'm'},
        {"connect-timeout-ms", 1, 0, 't'}, {"bufsize", 1, 0, 'b'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'h': opt_host = optarg; break;
        case 'p': opt_port = atoi(optarg); break;
        case 'P': opt_path = optarg; break;
        case 'n': opt_n = atoi(optarg); break;
        case 'd':
            if (strcmp(optarg, "json") == 0) opt_dialect = D_JSON;
            else if (strcmp(optarg, "sio") == 0) opt_dialect = D_SIO;
            else usage();
            break;
        case 'r':
            if (strcmp(optarg, "open") == 0) opt_ready = R_OPEN;
            else if (strcmp(optarg, "ack") == 0) opt_ready = R_ACK;
            else usage();
            break;
        case 'a': opt_ack = optarg; break;
        case 'z': opt_deflate = 1; break;
        case 'c': opt_concurrency = atoi(optarg); break;
        case 's': opt_src_ips = atoi(optarg); break;
        case 'i': opt_idle_ms = atoi(optarg); break;
        case 'm': opt_max_drain_ms = atoi(optarg); break;
        case 't': opt_connect_timeout_ms = atoi(optarg); break;
        case 'b': opt_bufsize = atoi(optarg); break;
        default: usage();
        }
    }
    if (opt_port <= 0 || opt_n <= 0 || opt_n > 100000 || opt_concurrency <= 0 ||
        opt_src_ips < 1 || opt_src_ips > 250 || opt_bufsize < 1024)
        usage();
    if (!opt_path) opt_path = opt_dialect == D_SIO ? "/socket.io/?EIO=4&transport=websocket"
                                                   : "/ws?feed=en";
    signal(SIGPIPE, SIG_IGN);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)opt_n + 64) {
            emit("{\"event\":\"fatal\",\"message\":\"RLIMIT_NOFILE %llu too low for %d\"}",
                 (unsigned long long)rl.rlim_cur, opt_n);
            return 2;
        }
    }

    conns = calloc((size_t)opt_n, sizeof *conns);
    if (!conns) die("out of memory");
    for (int i = 0; i < opt_n; i++) conns[i].fd = -1;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1");
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    struct epoll_event sev = {.events = EPOLLIN, .data.u64 = STDIN_TAG};
    epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &sev);

    struct epoll_event evs[1024];
    int64_t t0 = mono_ns();
    t_connect_start = t0;
    int64_t last_progress = t0;
    struct rusage ru_c0;
    getrusage(RUSAGE_SELF, &ru_c0);

    for (;;) {
        /* connect pacing */
        while (n_started < opt_n && n_inflight < opt_concurrency) start_connect(n_started++);

        int64_t t = mono_ns();
        if (!ready_reported &&
            (n_ready + n_failed >= opt_n || t - t_connect_start > (int64_t)opt_connect_timeout_ms * 1000000)) {
            struct rusage ru_c1;
            getrusage(RUSAGE_SELF, &ru_c1);
            t_all_ready = t;
            double secs = (t_all_ready - t_connect_start) / 1e9;
            emit("{\"event\":\"ready\",\"n\":%d,\"ready\":%d,\"failed\":%d,\"deflate\":%d,"
                 "\"connect_s\":%.4f,\"connect_rate\":%.1f,\"loadgen_cpu_s\":%.4f}",
                 opt_n, n_ready, n_failed + (opt_n - n_ready - n_failed), n_deflate, secs,
                 secs > 0 ? n_ready / secs : 0.0, ru_cpu(&ru_c1) - ru_cpu(&ru_c0));
            ready_reported = 1;
        }
        if (t - last_progress > 1000000000LL) {
            last_progress = t;
            if (!ready_reported)
                emit("{\"event\":\"progress\",\"ready\":%d,\"failed\":%d}", n_ready, n_failed);
            else if (phase_active)
                emit("{\"event\":\"progress\",\"phase\":\"%s\",\"deliveries\":%llu,"
                     "\"expected\":%llu,\"open\":%d}",
                     phase_name, (unsigned long long)ph_unique,
                     (unsigned long long)ph_expected, n_ready);
        }
        phase_check();
        if (quit_requested) break;

        int k = epoll_wait(epfd, evs, 1024, 50);
        if (k < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int j = 0; j < k; j++) {
            if (evs[j].data.u64 == STDIN_TAG) {
                on_stdin();
                continue;
            }
            on_event((uint32_t)evs[j].data.u64, evs[j].events);
        }
    }

    if (phase_active) phase_report("quit");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    emit("{\"event\":\"bye\",\"ready\":%d,\"failed\":%d,\"closed_after_ready\":%d,"
         "\"frames\":%llu,\"messages\":%llu,\"reads\":%llu,\"bytes\":%llu,\"pings_answered\":%llu,"
         "\"stray\":%llu,\"cpu_s\":%.4f,\"maxrss_kb\":%ld}",
         n_ready, n_failed, n_closed_after_ready, (unsigned long long)total_frames,
         (unsigned long long)total_msgs, (unsigned long long)total_reads,
         (unsigned long long)total_bytes, (unsigned long long)pings_answered,
         (unsigned long long)stray_total, ru_cpu(&ru), ru.ru_maxrss);
    for (int i = 0; i < opt_n; i++)
        if (conns[i].fd >= 0) close(conns[i].fd);
    return 0;
}
