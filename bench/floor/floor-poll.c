// floor-poll: floor.c with poll(2) over every transfer socket in each
// round instead of epoll, the way dnsmasq waits. The scan of all sockets
// costs CPU per round, and so each round finds more sockets ready: it
// answers ACKs in larger batches. On a machine whose load generator shares
// the cores, that batching changes the throughput a storm gets, apart from
// the server's cost per block. Loopback only, as floor.c.
//
// usage: floor-poll ROOT PORT
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

struct xfer {
	int fd;
	struct sockaddr_in peer;
	const unsigned char *data;
	size_t size, mapped;
	size_t blksize;
	uint64_t next; // block to send next (1-based)
	uint64_t last; // last block number
};

static int rootfd;
#define MAXX 4096
static struct xfer *xs[MAXX];
static int nx;

static void die(const char *what) { perror(what); exit(1); }

static void send_block(struct xfer *x, uint64_t n) {
	unsigned char hdr[4] = {0, 3, (n >> 8) & 0xff, n & 0xff};
	size_t off = (n - 1) * x->blksize;
	size_t len = off < x->size ? x->size - off : 0;
	if (len > x->blksize) len = x->blksize;
	struct iovec iov[2] = {{hdr, 4}, {(void *)(x->data + off), len}};
	struct msghdr m = {.msg_name = &x->peer, .msg_namelen = sizeof x->peer, .msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	while (sendmsg(x->fd, &m, 0) < 0 && errno == EINTR) {}
}

static void finish(struct xfer *x) {
	for (int i = 0; i < nx; i++) if (xs[i] == x) { xs[i] = xs[--nx]; break; }
	close(x->fd);
	if (x->mapped) munmap((void *)x->data, x->mapped);
	free(x);
}

static void error_packet(int fd, struct sockaddr_in *to, const char *msg) {
	unsigned char b[128] = {0, 5, 0, 1};
	size_t n = strlen(msg);
	memcpy(b + 4, msg, n + 1);
	sendto(fd, b, 5 + n, 0, (struct sockaddr *)to, sizeof *to);
}

static void request(int lfd, unsigned char *b, ssize_t n, struct sockaddr_in *from) {
	if (n < 4 || b[1] != 1) return;
	b[n] = 0;
	char *file = (char *)b + 2, *p = file + strlen(file) + 1, *end = (char *)b + n;
	if (p >= end) return;
	p += strlen(p) + 1; // mode
	size_t blksize = 512;
	int want_tsize = 0;
	char oack[256];
	size_t ol = 2;
	oack[0] = 0, oack[1] = 6;
	while (p < end) {
		char *opt = p, *val = p + strlen(p) + 1;
		if (val >= end) break;
		p = val + strlen(val) + 1;
		if (!strcasecmp(opt, "blksize")) {
			blksize = strtoul(val, NULL, 10);
			if (blksize > 65464) blksize = 65464;
			ol += sprintf(oack + ol, "blksize") + 1;
			ol += sprintf(oack + ol, "%zu", blksize) + 1;
		} else if (!strcasecmp(opt, "tsize")) {
			want_tsize = 1;
		}
	}
	while (*file == '/') file++;
	int f = openat(rootfd, file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (f < 0 || fstat(f, &st) < 0) {
		error_packet(lfd, from, "not found");
		if (f >= 0) close(f);
		return;
	}
	if (want_tsize) {
		ol += sprintf(oack + ol, "tsize") + 1;
		ol += sprintf(oack + ol, "%lld", (long long)st.st_size) + 1;
	}
	struct xfer *x = calloc(1, sizeof *x);
	x->size = st.st_size;
	x->blksize = blksize;
	x->last = x->size / blksize + 1;
	x->peer = *from;
	if (x->size) {
		x->mapped = x->size;
		x->data = mmap(NULL, x->size, PROT_READ, MAP_SHARED, f, 0);
		if (x->data == MAP_FAILED) die("mmap");
	}
	close(f);
	x->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in la = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(x->fd, (struct sockaddr *)&la, sizeof la) < 0) die("bind");
	xs[nx++] = x;
	if (ol > 2) {
		x->next = 0; // waiting for ACK 0
		sendto(x->fd, oack, ol, 0, (struct sockaddr *)from, sizeof *from);
	} else {
		x->next = 1;
		send_block(x, 1);
	}
}

static void ack(struct xfer *x) {
	unsigned char b[516];
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	ssize_t n = recvfrom(x->fd, b, sizeof b, 0, (struct sockaddr *)&from, &fl);
	if (n < 4) return;
	if (b[1] != 4) { finish(x); return; }
	uint16_t a = b[2] << 8 | b[3];
	if (x->next > 0 && a == (uint16_t)(x->next - 1)) {
		send_block(x, x->next); // the client's timer: it lost our block
		return;
	}
	if (a != (uint16_t)x->next) return;
	if (x->next == x->last) { finish(x); return; }
	x->next++;
	send_block(x, x->next);
}

int main(int argc, char **argv) {
	if (argc != 3) { fprintf(stderr, "usage: floor ROOT PORT\n"); return 2; }
	rootfd = open(argv[1], O_RDONLY | O_DIRECTORY);
	if (rootfd < 0) die(argv[1]);
	int lfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(lfd, (struct sockaddr *)&la, sizeof la) < 0) die("bind");
	struct pollfd pf[MAXX + 1];
	struct xfer *px[MAXX + 1];
	for (;;) {
		int n = 0;
		pf[n].fd = lfd, pf[n].events = POLLIN, px[n++] = NULL;
		for (int i = 0; i < nx; i++) pf[n].fd = xs[i]->fd, pf[n].events = POLLIN, px[n++] = xs[i];
		if (poll(pf, n, -1) <= 0) continue;
		for (int i = 0; i < n; i++) {
			if (!(pf[i].revents & POLLIN)) continue;
			if (!px[i]) {
				unsigned char b[1024];
				struct sockaddr_in from;
				socklen_t fl = sizeof from;
				ssize_t r = recvfrom(lfd, b, sizeof b - 1, 0, (struct sockaddr *)&from, &fl);
				if (r > 0) request(lfd, b, r, &from);
			} else {
				ack(px[i]);
			}
		}
	}
}
