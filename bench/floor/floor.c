// floor: the least a TFTP server can do per block on Linux with one socket
// per transfer: one recvfrom and one sendmsg per block and a share of one
// wait for ready sockets, data sent straight from an mmap of the file (no
// copy in user space), no timers, no logging, no retransmission but on a
// repeated ACK (loopback only). It measures the kernel's per-packet cost
// that every server pays; it is not a server to use.
//
// Built with -DFLOOR_POLL it waits with poll(2) over every transfer socket
// in each round, as dnsmasq does, instead of epoll (floor-poll): the scan
// costs CPU per round, and so each round finds more sockets ready and
// answers more ACKs in one batch.
//
// usage: floor ROOT PORT
#include "floor.h"
#ifdef FLOOR_POLL
#include <poll.h>
#else
#include <sys/epoll.h>
#endif

#define MAXEV 128
#define MAXX 16384

static int rootfd, lfd;
#ifdef FLOOR_POLL
static struct xfer *xs[MAXX]; // the live transfers, in no order
static int nx;
#else
static int ep;
#endif

static void add(struct xfer *x) {
#ifdef FLOOR_POLL
	if (nx == MAXX) die("too many transfers");
	xs[nx++] = x;
#else
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = x};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, x->fd, &ev) < 0) die("epoll_ctl");
#endif
}

static void finish(struct xfer *x) {
#ifdef FLOOR_POLL
	for (int i = 0; i < nx; i++)
		if (xs[i] == x) {
			xs[i] = xs[--nx];
			break;
		}
#else
	epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
#endif
	free_xfer(x);
}

static void request(void) {
	unsigned char b[1024];
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	ssize_t n = recvfrom(lfd, b, sizeof b - 1, 0, (struct sockaddr *)&from, &fl);
	struct xfer *x = n > 0 ? new_xfer(rootfd, lfd, b, n, &from) : NULL;
	if (!x) return;
	add(x);
	if (x->oacklen)
		sendto(x->fd, x->oack, x->oacklen, 0, (struct sockaddr *)&x->peer, sizeof x->peer);
	else
		sendmsg(x->fd, block_msg(x, 1), 0);
}

static void ready(struct xfer *x) {
	unsigned char b[516];
	ssize_t n = recv(x->fd, b, sizeof b, 0);
	if (n < 0) return;
	switch (on_packet(x, b, n)) {
	case IGNORE:
		break;
	case SEND:
		while (sendmsg(x->fd, block_msg(x, x->next), 0) < 0 && errno == EINTR) {}
		break;
	case END:
		finish(x);
		break;
	}
}

int main(int argc, char **argv) {
	start(argc, argv, &rootfd, &lfd);
#ifdef FLOOR_POLL
	static struct pollfd pf[MAXX + 1];
	static struct xfer *px[MAXX + 1];
	for (;;) {
		int n = 0;
		pf[n] = (struct pollfd){.fd = lfd, .events = POLLIN}, px[n++] = NULL;
		for (int i = 0; i < nx; i++) pf[n] = (struct pollfd){.fd = xs[i]->fd, .events = POLLIN}, px[n++] = xs[i];
		if (poll(pf, n, -1) <= 0) continue;
		for (int i = 0; i < n; i++) {
			if (!(pf[i].revents & POLLIN)) continue;
			if (px[i]) ready(px[i]);
			else request();
		}
	}
#else
	ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}, evs[MAXEV];
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) die("epoll");
	for (;;) {
		int n = epoll_wait(ep, evs, MAXEV, -1);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr) ready(evs[i].data.ptr);
			else request();
		}
	}
#endif
}
