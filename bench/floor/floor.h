// floor.h: what the floor servers share: a transfer, the parsing of a
// read request, and what an ACK asks for. See floor.c.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

struct xfer {
	int fd, done;
	struct sockaddr_in peer;
	const unsigned char *data;
	size_t size, mapped, blksize;
	uint64_t next; // block to send next (1-based), 0 while the OACK is out
	uint64_t last; // the final block
	unsigned char hdr[4];
	struct iovec iov[2];
	struct msghdr msg;
	char oack[256];
	size_t oacklen; // 0: no option accepted
};

static void die(const char *what) {
	perror(what);
	exit(1);
}

// open_root opens the directory files are served from.
static int open_root(const char *dir) {
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) die(dir);
	return fd;
}

// listen_udp binds a UDP socket to 127.0.0.1:port (0: any port).
static int listen_udp(int port) {
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || bind(fd, (struct sockaddr *)&la, sizeof la) < 0) die("bind");
	return fd;
}

// start takes the command line, ROOT PORT: it opens ROOT into *rootfd and
// listens on 127.0.0.1:PORT with *lfd, or exits with a usage message.
static void start(int argc, char **argv, int *rootfd, int *lfd) {
	if (argc != 3) {
		fprintf(stderr, "usage: %s ROOT PORT\n", argv[0]);
		exit(2);
	}
	*rootfd = open_root(argv[1]);
	*lfd = listen_udp(atoi(argv[2]));
}

// new_xfer parses the RRQ b[:n] (b has room for a NUL at b[n]) from
// "from", opens and maps the file under rootfd and binds the transfer's
// socket. It answers a request it cannot serve with an ERROR on lfd and
// returns NULL.
static struct xfer *new_xfer(int rootfd, int lfd, unsigned char *b, ssize_t n, struct sockaddr_in *from) {
	if (n < 4 || b[1] != 1) return NULL;
	b[n] = 0;
	char *file = (char *)b + 2, *p = file + strlen(file) + 1, *end = (char *)b + n;
	if (p >= end) return NULL;
	p += strlen(p) + 1; // the mode: octet assumed
	struct xfer *x = calloc(1, sizeof *x);
	if (!x) die("calloc");
	x->blksize = 512;
	size_t ol = 2;
	int want_tsize = 0;
	x->oack[0] = 0, x->oack[1] = 6;
	while (p < end) {
		char *opt = p, *val = p + strlen(p) + 1;
		if (val >= end) break;
		p = val + strlen(val) + 1;
		if (!strcasecmp(opt, "blksize")) {
			x->blksize = strtoul(val, NULL, 10);
			if (x->blksize > 65464) x->blksize = 65464;
			if (x->blksize < 8) x->blksize = 8;
			ol += sprintf(x->oack + ol, "blksize") + 1;
			ol += sprintf(x->oack + ol, "%zu", x->blksize) + 1;
		} else if (!strcasecmp(opt, "tsize")) {
			want_tsize = 1;
		}
	}
	while (*file == '/') file++;
	int f = openat(rootfd, file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (f < 0 || fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
		static const unsigned char nf[] = {0, 5, 0, 1, 'n', 'o', 't', ' ', 'f', 'o', 'u', 'n', 'd', 0};
		sendto(lfd, nf, sizeof nf, 0, (struct sockaddr *)from, sizeof *from);
		if (f >= 0) close(f);
		free(x);
		return NULL;
	}
	if (want_tsize) {
		ol += sprintf(x->oack + ol, "tsize") + 1;
		ol += sprintf(x->oack + ol, "%lld", (long long)st.st_size) + 1;
	}
	x->oacklen = ol > 2 ? ol : 0;
	x->size = st.st_size;
	x->last = x->size / x->blksize + 1;
	x->peer = *from;
	if (x->size) {
		x->mapped = x->size;
		x->data = mmap(NULL, x->size, PROT_READ, MAP_SHARED, f, 0);
		if (x->data == MAP_FAILED) die("mmap");
	}
	close(f);
	x->fd = listen_udp(0);
	x->next = x->oacklen ? 0 : 1;
	return x;
}

// free_xfer closes and frees a finished transfer.
static void free_xfer(struct xfer *x) {
	close(x->fd);
	if (x->mapped) munmap((void *)x->data, x->mapped);
	free(x);
}

// block_msg points x->msg at DATA block n: the header, then the mapped
// bytes (no copy).
static struct msghdr *block_msg(struct xfer *x, uint64_t n) {
	x->hdr[0] = 0, x->hdr[1] = 3, x->hdr[2] = (n >> 8) & 0xff, x->hdr[3] = n & 0xff;
	size_t off = (n - 1) * x->blksize;
	size_t len = off < x->size ? x->size - off : 0;
	if (len > x->blksize) len = x->blksize;
	x->iov[0] = (struct iovec){x->hdr, 4};
	x->iov[1] = (struct iovec){(void *)(x->data + off), len};
	x->msg = (struct msghdr){.msg_name = &x->peer, .msg_namelen = sizeof x->peer, .msg_iov = x->iov, .msg_iovlen = len ? 2 : 1};
	return &x->msg;
}

enum action { IGNORE, SEND, END };

// on_packet says what the packet b[:n] from the client asks for; on SEND,
// x->next is the block to send (the next one, or the current one again
// when the client repeats its previous ACK: its timer ran out).
static enum action on_packet(struct xfer *x, const unsigned char *b, size_t n) {
	if (n < 4) return IGNORE;
	if (b[1] != 4) return END; // ERROR, or nonsense
	uint16_t a = b[2] << 8 | b[3];
	if (x->next > 0 && a == (uint16_t)(x->next - 1)) return SEND;
	if (a != (uint16_t)x->next) return IGNORE;
	if (x->next == x->last) return END;
	x->next++;
	return SEND;
}
