/*
 * cpa's native spawn helper: the same job and the same frames as the Perl
 * helper (HELPER_SCRIPT in spawn-helper.ts, whose header describes them), in
 * a process of a few hundred KB that starts programs with vfork: no copy of
 * the helper's memory and no copy-on-write faults per run, where Perl's fork
 * copies its interpreter's page tables and faults them back in. The image ships it built for its own
 * libc (Dockerfile, stage "spawn-helper"); without it the Perl helper runs.
 *
 * Node keeps every clock and limit; the helper only starts, feeds, reads,
 * reaps and kills. Build: cc -O2 -o cpa-spawn-helper spawn-helper.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEADER 9
#define CHUNK 65536
/* Past this much output waiting for Node, programs' output is not read (back-pressure). */
#define OUT_HIGH (1 << 20)

extern char **environ;

struct buf {
  char *data;
  size_t start, len, cap;
};

struct run {
  uint32_t id;
  pid_t pid;
  int in, out, err; /* -1 once closed */
  char *input;
  size_t input_len, written;
  int status, exited;
  struct run *next;
};

static struct buf from_node, to_node;
static struct run *runs;

static void *must(void *p) {
  if (!p) _exit(70); /* out of memory: Node sees the helper die and runs go direct */
  return p;
}

static void reserve(struct buf *b, size_t more) {
  if (b->start > 0 && b->start + b->len + more > b->cap) {
    memmove(b->data, b->data + b->start, b->len);
    b->start = 0;
  }
  if (b->len + more <= b->cap) return;
  size_t cap = b->cap ? b->cap : CHUNK;
  while (cap < b->len + more) cap *= 2;
  b->data = must(realloc(b->data, cap));
  b->cap = cap;
}

static void put32(char *p, uint32_t v) {
  p[0] = (char)(v >> 24);
  p[1] = (char)(v >> 16);
  p[2] = (char)(v >> 8);
  p[3] = (char)v;
}

static uint32_t get32(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static void frame(char type, uint32_t id, const void *payload, size_t len) {
  reserve(&to_node, HEADER + len);
  char *p = to_node.data + to_node.start + to_node.len;
  p[0] = type;
  put32(p + 1, id);
  put32(p + 5, (uint32_t)len);
  if (len) memcpy(p + HEADER, payload, len);
  to_node.len += HEADER + len;
}

static void frame32(char type, uint32_t id, uint32_t value) {
  char p[4];
  put32(p, value);
  frame(type, id, p, 4);
}

static void nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static int again(void) { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Set by a child whose exec failed; vfork's child shares our memory until it execs or exits. */
static volatile int exec_errno;

/*
 * vfork: the child borrows the helper's memory until its exec, so nothing is
 * copied per run. It runs only async-signal-safe calls: a session (and so a
 * process group) of its own, as Node's detached spawn gives, with the signal
 * mask and dispositions a fresh program expects (the exec resets the handled
 * ones; SIGPIPE, ignored here, is reset by hand). glibc's posix_spawn would do
 * the same work, but leaves its two internal signals ignored in the program.
 */
static int spawn(pid_t *pid, char **argv, int fds[3][2], const sigset_t *none) {
  exec_errno = 0;
  pid_t child = vfork();
  if (child == 0) {
    setsid();
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, none, NULL);
    if (dup2(fds[0][0], 0) >= 0 && dup2(fds[1][1], 1) >= 0 && dup2(fds[2][1], 2) >= 0) execvp(argv[0], argv);
    exec_errno = errno ? errno : ENOEXEC;
    _exit(127);
  }
  if (child < 0) return errno;
  if (exec_errno) {
    int rc = exec_errno;
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
    }
    return rc;
  }
  *pid = child;
  return 0;
}

static void feed(struct run *r) {
  size_t left = r->input_len - r->written;
  if (left > 0) {
    ssize_t n = write(r->in, r->input + r->written, left);
    if (n < 0 && again()) return;
    /* An error is EPIPE: the program does not read its stdin, which is fine. */
    if (n < 0) left = 0;
    else {
      r->written += (size_t)n;
      left -= (size_t)n;
    }
  }
  if (left > 0) return;
  close_fd(&r->in);
  free(r->input);
  r->input = NULL;
}

static void start(uint32_t id, const char *payload, size_t len, const sigset_t *none) {
  if (len < 4) return frame32('F', id, EINVAL);
  uint32_t argc = get32(payload);
  if (argc == 0 || argc > len / 4) return frame32('F', id, EINVAL);
  char **argv = must(calloc((size_t)argc + 1, sizeof *argv));
  size_t off = 4;
  for (uint32_t i = 0; i < argc; i++) {
    uint32_t n = off + 4 <= len ? get32(payload + off) : UINT32_MAX;
    if (n > len - off - 4) {
      while (i > 0) free(argv[--i]);
      free(argv);
      return frame32('F', id, EINVAL);
    }
    argv[i] = must(strndup(payload + off + 4, n));
    off += 4 + n;
  }
  int fds[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  int rc = 0;
  for (int i = 0; i < 3 && rc == 0; i++)
    if (pipe2(fds[i], O_CLOEXEC) < 0) rc = errno;
  pid_t pid = 0;
  if (rc == 0) rc = spawn(&pid, argv, fds, none);
  for (uint32_t i = 0; i < argc; i++) free(argv[i]);
  free(argv);
  close_fd(&fds[0][0]);
  close_fd(&fds[1][1]);
  close_fd(&fds[2][1]);
  if (rc != 0) {
    close_fd(&fds[0][1]);
    close_fd(&fds[1][0]);
    close_fd(&fds[2][0]);
    return frame32('F', id, (uint32_t)rc);
  }
  struct run *r = must(calloc(1, sizeof *r));
  r->id = id;
  r->pid = pid;
  r->in = fds[0][1];
  r->out = fds[1][0];
  r->err = fds[2][0];
  r->input_len = len - off;
  r->input = must(malloc(r->input_len + 1));
  memcpy(r->input, payload + off, r->input_len);
  nonblocking(r->in);
  r->next = runs;
  runs = r;
  frame32('S', id, (uint32_t)pid);
  feed(r);
}

static void read_node(const sigset_t *none) {
  reserve(&from_node, 4 * CHUNK);
  ssize_t n = read(0, from_node.data + from_node.start + from_node.len, 4 * CHUNK);
  if (n < 0 && again()) return;
  /* Node closed our stdin or exited: so do we. Programs still running go on
     by themselves, as they do when Node exits after spawning them directly. */
  if (n <= 0) exit(0);
  from_node.len += (size_t)n;
  while (from_node.len >= HEADER) {
    const char *p = from_node.data + from_node.start;
    uint32_t id = get32(p + 1), len = get32(p + 5);
    if (from_node.len - HEADER < len) break;
    if (p[0] == 'R') start(id, p + HEADER, len, none);
    else if (p[0] == 'K')
      for (struct run *r = runs; r; r = r->next)
        if (r->id == id) kill(-r->pid, SIGKILL);
    from_node.start += HEADER + len;
    from_node.len -= HEADER + len;
  }
}

static void reap(int sigfd) {
  struct signalfd_siginfo info;
  while (read(sigfd, &info, sizeof info) > 0) {
  }
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
    for (struct run *r = runs; r; r = r->next)
      if (r->pid == pid && !r->exited) {
        r->exited = 1;
        r->status = status;
      }
}

static void drain(struct run *r, int *fd, char type) {
  char chunk[CHUNK];
  ssize_t n = read(*fd, chunk, sizeof chunk);
  if (n < 0 && again()) return;
  if (n > 0) return frame(type, r->id, chunk, (size_t)n);
  close_fd(fd);
}

static void flush(void) {
  if (!to_node.len) return;
  ssize_t n = write(1, to_node.data + to_node.start, to_node.len);
  if (n < 0 && again()) return;
  if (n < 0) exit(0); /* Node is gone. */
  to_node.start += (size_t)n;
  to_node.len -= (size_t)n;
  if (!to_node.len) to_node.start = 0;
}

/* Each run's ended ones: X once both outputs are closed and the program has exited. */
static void finish_ended(void) {
  for (struct run **link = &runs; *link;) {
    struct run *r = *link;
    if (r->out >= 0 || r->err >= 0 || !r->exited) {
      link = &r->next;
      continue;
    }
    char p[2];
    p[0] = WIFSIGNALED(r->status) ? 1 : 0;
    p[1] = (char)(WIFSIGNALED(r->status) ? WTERMSIG(r->status) : WEXITSTATUS(r->status));
    frame('X', r->id, p, 2);
    close_fd(&r->in);
    free(r->input);
    *link = r->next;
    free(r);
  }
}

int main(void) {
  sigset_t none, chld;
  sigemptyset(&none);
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  /* A program that never reads its stdin must not kill the helper (EPIPE instead). */
  signal(SIGPIPE, SIG_IGN);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sigfd < 0) return 71;
  fcntl(0, F_SETFD, FD_CLOEXEC);
  fcntl(1, F_SETFD, FD_CLOEXEC);
  nonblocking(1);
  frame('Y', 0, NULL, 0);
  struct pollfd *fds = NULL;
  size_t cap = 0;
  for (;;) {
    size_t count = 0;
    for (struct run *r = runs; r; r = r->next) count++;
    if (cap < 3 + 3 * count) {
      cap = 2 * (3 + 3 * count);
      fds = must(realloc(fds, cap * sizeof *fds));
    }
    size_t n = 0;
    fds[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = to_node.len ? 1 : -1, .events = POLLOUT};
    fds[n++] = (struct pollfd){.fd = sigfd, .events = POLLIN};
    int reading = to_node.len < OUT_HIGH;
    for (struct run *r = runs; r; r = r->next) {
      fds[n++] = (struct pollfd){.fd = r->in, .events = POLLOUT};
      fds[n++] = (struct pollfd){.fd = reading ? r->out : -1, .events = POLLIN};
      fds[n++] = (struct pollfd){.fd = reading ? r->err : -1, .events = POLLIN};
    }
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      return 72;
    }
    if (fds[2].revents) reap(sigfd);
    /* Runs before Node's frames: a K for a run read in this pass finds it in the list. */
    size_t i = 3;
    for (struct run *r = runs; r && i < n; r = r->next, i += 3) {
      if (fds[i].revents && r->in >= 0) feed(r);
      if (fds[i + 1].revents && r->out >= 0) drain(r, &r->out, 'O');
      if (fds[i + 2].revents && r->err >= 0) drain(r, &r->err, 'E');
    }
    if (fds[0].revents) read_node(&none);
    finish_ended();
    flush();
  }
}
