// floor-uring: floor.c's server on io_uring: one io_uring_enter per batch
// instead of a system call per packet. Each transfer socket has one
// multishot recvmsg drawing on a provided-buffer ring; each block is a
// sendmsg SQE (header + the mmap'd data, no copy in user space) whose
// success posts no CQE. Loopback only, no timers, no retransmission.
//
// usage: floor-uring ROOT PORT
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
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

#define NBUF 4096
#define BUFSZ 256
#define BGID 1

struct xfer {
	int fd, done;
	struct sockaddr_in peer;
	const unsigned char *data;
	size_t size, mapped, blksize;
	uint64_t next, last;
	unsigned char hdr[4];
	struct iovec iov[2];
	struct msghdr sm;
	char oack[256];
};

static int rootfd;
static struct io_uring ring;
static struct io_uring_buf_ring *br;
static unsigned char *bufs;
static struct msghdr rmsg = {.msg_namelen = sizeof(struct sockaddr_in)};

static void die(const char *what) { perror(what); exit(1); }

static struct io_uring_sqe *sqe(void) {
	struct io_uring_sqe *s = io_uring_get_sqe(&ring);
	if (!s) {
		io_uring_submit(&ring);
		s = io_uring_get_sqe(&ring);
	}
	return s;
}

static void send_block(struct xfer *x, uint64_t n) {
	x->hdr[0] = 0, x->hdr[1] = 3, x->hdr[2] = (n >> 8) & 0xff, x->hdr[3] = n & 0xff;
	size_t off = (n - 1) * x->blksize;
	size_t len = off < x->size ? x->size - off : 0;
	if (len > x->blksize) len = x->blksize;
	x->iov[0] = (struct iovec){x->hdr, 4};
	x->iov[1] = (struct iovec){(void *)(x->data + off), len};
	x->sm = (struct msghdr){.msg_name = &x->peer, .msg_namelen = sizeof x->peer, .msg_iov = x->iov, .msg_iovlen = len ? 2 : 1};
	struct io_uring_sqe *s = sqe();
	io_uring_prep_sendmsg(s, x->fd, &x->sm, 0);
	s->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(s, 0);
}

static void arm_recv(struct xfer *x) {
	struct io_uring_sqe *s = sqe();
	io_uring_prep_recvmsg_multishot(s, x->fd, &rmsg, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = BGID;
	io_uring_sqe_set_data(s, x);
}

static void request(int lfd, unsigned char *b, ssize_t n, struct sockaddr_in *from) {
	if (n < 4 || b[1] != 1) return;
	b[n] = 0;
	char *file = (char *)b + 2, *p = file + strlen(file) + 1, *end = (char *)b + n;
	if (p >= end) return;
	p += strlen(p) + 1;
	size_t blksize = 512;
	int want_tsize = 0;
	struct xfer *x = calloc(1, sizeof *x);
	size_t ol = 2;
	x->oack[0] = 0, x->oack[1] = 6;
	while (p < end) {
		char *opt = p, *val = p + strlen(p) + 1;
		if (val >= end) break;
		p = val + strlen(val) + 1;
		if (!strcasecmp(opt, "blksize")) {
			blksize = strtoul(val, NULL, 10);
			if (blksize > 65464) blksize = 65464;
			ol += sprintf(x->oack + ol, "blksize") + 1;
			ol += sprintf(x->oack + ol, "%zu", blksize) + 1;
		} else if (!strcasecmp(opt, "tsize")) {
			want_tsize = 1;
		}
	}
	while (*file == '/') file++;
	int f = openat(rootfd, file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (f < 0 || fstat(f, &st) < 0) {
		static const unsigned char nf[] = {0, 5, 0, 1, 'n', 'o', 't', ' ', 'f', 'o', 'u', 'n', 'd', 0};
		sendto(lfd, nf, sizeof nf, 0, (struct sockaddr *)from, sizeof *from);
		if (f >= 0) close(f);
		free(x);
		return;
	}
	if (want_tsize) {
		ol += sprintf(x->oack + ol, "tsize") + 1;
		ol += sprintf(x->oack + ol, "%lld", (long long)st.st_size) + 1;
	}
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
	arm_recv(x);
	if (ol > 2) {
		x->next = 0;
		sendto(x->fd, x->oack, ol, 0, (struct sockaddr *)from, sizeof *from);
	} else {
		x->next = 1;
		send_block(x, 1);
	}
}

static void packet(struct xfer *x, unsigned char *b, size_t n) {
	if (x->done || n < 4) return;
	if (b[1] != 4) goto end;
	uint16_t a = b[2] << 8 | b[3];
	if (x->next > 0 && a == (uint16_t)(x->next - 1)) {
		send_block(x, x->next); // the client's timer: it lost our block
		return;
	}
	if (a != (uint16_t)x->next) return;
	if (x->next == x->last) goto end;
	x->next++;
	send_block(x, x->next);
	return;
end:
	x->done = 1;
	struct io_uring_sqe *s = sqe();
	io_uring_prep_cancel(s, x, 0);
	s->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(s, 0);
}

int main(int argc, char **argv) {
	if (argc != 3) { fprintf(stderr, "usage: floor-uring ROOT PORT\n"); return 2; }
	rootfd = open(argv[1], O_RDONLY | O_DIRECTORY);
	if (rootfd < 0) die(argv[1]);
	int lfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(lfd, (struct sockaddr *)&la, sizeof la) < 0) die("bind");
	struct io_uring_params pr = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, .cq_entries = 8192};
	pr.flags |= IORING_SETUP_CQSIZE;
	int e = io_uring_queue_init_params(1024, &ring, &pr);
	if (e < 0) { errno = -e; die("io_uring_queue_init"); }
	if (posix_memalign((void **)&br, 4096, NBUF * sizeof(struct io_uring_buf))) die("memalign");
	bufs = malloc(NBUF * BUFSZ);
	struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br, .ring_entries = NBUF, .bgid = BGID};
	if ((e = io_uring_register_buf_ring(&ring, &reg, 0)) < 0) { errno = -e; die("register_buf_ring"); }
	io_uring_buf_ring_init(br);
	for (int i = 0; i < NBUF; i++) io_uring_buf_ring_add(br, bufs + i * BUFSZ, BUFSZ, i, io_uring_buf_ring_mask(NBUF), i);
	io_uring_buf_ring_advance(br, NBUF);
	// The listening socket: a poll, re-armed (multishot).
	struct io_uring_sqe *s = sqe();
	io_uring_prep_poll_multishot(s, lfd, POLLIN);
	io_uring_sqe_set_data64(s, 1);
	for (;;) {
		io_uring_submit_and_wait(&ring, 1);
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0, returned = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			seen++;
			uint64_t ud = cqe->user_data;
			if (ud == 0) continue; // a failed send or cancel
			if (ud == 1) {
				unsigned char b[1024];
				struct sockaddr_in from;
				socklen_t fl = sizeof from;
				ssize_t r;
				while ((r = recvfrom(lfd, b, sizeof b - 1, 0, (struct sockaddr *)&from, &fl)) > 0) request(lfd, b, r, &from);
				if (!(cqe->flags & IORING_CQE_F_MORE)) {
					s = sqe();
					io_uring_prep_poll_multishot(s, lfd, POLLIN);
					io_uring_sqe_set_data64(s, 1);
				}
				continue;
			}
			struct xfer *x = (struct xfer *)ud;
			if (cqe->flags & IORING_CQE_F_BUFFER) {
				int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
				unsigned char *buf = bufs + bid * BUFSZ;
				if (cqe->res > 0) {
					struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, cqe->res, &rmsg);
					if (o) packet(x, io_uring_recvmsg_payload(o, &rmsg), io_uring_recvmsg_payload_length(o, cqe->res, &rmsg));
				}
				io_uring_buf_ring_add(br, buf, BUFSZ, bid, io_uring_buf_ring_mask(NBUF), returned++);
			}
			if (!(cqe->flags & IORING_CQE_F_MORE)) {
				if (x->done) {
					close(x->fd);
					if (x->mapped) munmap((void *)x->data, x->mapped);
					free(x);
				} else {
					arm_recv(x); // ran out of buffers, or the like
				}
			}
		}
		io_uring_buf_ring_advance(br, returned);
		io_uring_cq_advance(&ring, seen);
	}
}
