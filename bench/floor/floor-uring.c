// floor-uring: floor.c's server on io_uring: one io_uring_enter per batch
// instead of a system call per packet. Each transfer socket has one
// multishot recvmsg drawing on a provided-buffer ring; each block is a
// sendmsg SQE (header + the mmap'd data, no copy in user space) whose
// success posts no CQE. Loopback only, no timers, no retransmission but on
// a repeated ACK. Needs liburing (Debian's liburing-dev) and Linux 6.0.
//
// usage: floor-uring ROOT PORT
#include "floor.h"
#include <liburing.h>
#include <poll.h>

#define NBUF 4096 // receive buffers in the ring
#define BUFSZ 256 // an ACK or an ERROR (truncated) and recvmsg's header
#define BGID 1
#define UD_NONE 0   // a failed send or cancel: nothing to do
#define UD_LISTEN 1 // the listening socket is readable

static int rootfd, lfd;
static struct io_uring ring;
static struct io_uring_buf_ring *br;
static unsigned char *bufs;
static struct msghdr rmsg = {.msg_namelen = sizeof(struct sockaddr_in)};

static struct io_uring_sqe *sqe(void) {
	struct io_uring_sqe *s = io_uring_get_sqe(&ring);
	if (!s) {
		io_uring_submit(&ring);
		s = io_uring_get_sqe(&ring);
	}
	return s;
}

static void send_block(struct xfer *x) {
	struct io_uring_sqe *s = sqe();
	io_uring_prep_sendmsg(s, x->fd, block_msg(x, x->next), 0);
	s->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(s, UD_NONE);
}

static void arm_recv(struct xfer *x) {
	struct io_uring_sqe *s = sqe();
	io_uring_prep_recvmsg_multishot(s, x->fd, &rmsg, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = BGID;
	io_uring_sqe_set_data(s, x);
}

static void arm_listen(void) {
	struct io_uring_sqe *s = sqe();
	io_uring_prep_poll_multishot(s, lfd, POLLIN);
	io_uring_sqe_set_data64(s, UD_LISTEN);
}

static void requests(void) {
	unsigned char b[1024];
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	ssize_t n;
	while ((n = recvfrom(lfd, b, sizeof b - 1, 0, (struct sockaddr *)&from, &fl)) > 0) {
		struct xfer *x = new_xfer(rootfd, lfd, b, n, &from);
		if (!x) continue;
		arm_recv(x);
		if (x->oacklen)
			sendto(x->fd, x->oack, x->oacklen, 0, (struct sockaddr *)&x->peer, sizeof x->peer);
		else
			send_block(x);
	}
}

static void packet(struct xfer *x, const unsigned char *b, size_t n) {
	if (x->done) return;
	switch (on_packet(x, b, n)) {
	case IGNORE:
		break;
	case SEND:
		send_block(x);
		break;
	case END: // the recvmsg ends with the cancel; x is freed then
		x->done = 1;
		struct io_uring_sqe *s = sqe();
		io_uring_prep_cancel(s, x, 0);
		s->flags |= IOSQE_CQE_SKIP_SUCCESS;
		io_uring_sqe_set_data64(s, UD_NONE);
		break;
	}
}

int main(int argc, char **argv) {
	start(argc, argv, &rootfd, &lfd);
	struct io_uring_params pr = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE, .cq_entries = 8192};
	int e = io_uring_queue_init_params(1024, &ring, &pr);
	if (e < 0) {
		errno = -e;
		die("io_uring_queue_init");
	}
	if (posix_memalign((void **)&br, 4096, NBUF * sizeof(struct io_uring_buf))) die("posix_memalign");
	if (!(bufs = malloc(NBUF * BUFSZ))) die("malloc");
	struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br, .ring_entries = NBUF, .bgid = BGID};
	if ((e = io_uring_register_buf_ring(&ring, &reg, 0)) < 0) {
		errno = -e;
		die("io_uring_register_buf_ring");
	}
	io_uring_buf_ring_init(br);
	for (int i = 0; i < NBUF; i++) io_uring_buf_ring_add(br, bufs + i * BUFSZ, BUFSZ, i, io_uring_buf_ring_mask(NBUF), i);
	io_uring_buf_ring_advance(br, NBUF);
	arm_listen();
	for (;;) {
		io_uring_submit_and_wait(&ring, 1);
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0, returned = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			seen++;
			uint64_t ud = cqe->user_data;
			if (ud == UD_NONE) continue;
			if (ud == UD_LISTEN) {
				requests();
				if (!(cqe->flags & IORING_CQE_F_MORE)) arm_listen();
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
				if (x->done) free_xfer(x);
				else arm_recv(x); // out of buffers, or the like: arm again
			}
		}
		io_uring_buf_ring_advance(br, returned);
		io_uring_cq_advance(&ring, seen);
	}
}
