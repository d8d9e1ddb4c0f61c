/*
 * zinit: the init zsched starts at boot when the zone names no init of its
 * own. It runs inside the zone, as the zone's root, under zsched (the
 * zone's PID 1); it touches the zone's /etc/inittab, /dev/<id> ttys, its
 * children and their oom_score_adj, nothing else (no cgroups: zoneadmd
 * places processes, on cgroup v1 and v2 alike).
 *
 * It is a small static C program rather than an entry point of the Go
 * per-zone binary: one runs per zone for the zone's whole life and does
 * almost nothing, and a Go runtime's floor (0.6-1.2 MiB of anonymous
 * memory, a few threads) was most of what it cost (DECISIONS.md, "zinit in
 * C"). Static: busybox and tarball zone roots have no dynamic loader.
 *
 * It reads /etc/inittab in busybox syntax, id:runlevels:action:process,
 * and runs each process as busybox does (itself, or with /bin/sh -c when it
 * has shell syntax): sysinit and wait entries one after the other to
 * completion, then once entries, then respawn entries, restarted with a
 * growing delay when they keep dying. On SIGUSR2 (zoneadm shutdown;
 * SIGTERM and SIGUSR1 alike) it stops respawning, runs the shutdown entries
 * to completion and ends its other children.
 *
 * Busybox ignores the runlevels field; a zone's inittab may put
 * project=NAME there to run the entry in that project instead of default.
 * Such an entry runs through newtask, the per-zone binary's form that asks
 * zoneadmd over the zone socket to move it: zsched hands zinit a sealed
 * descriptor of that binary at fd 3.
 *
 * Invocations:
 *   zinit zinit [BOOTARG...]     the zone's init (what zsched runs)
 *   zinit --parse FILE           print how FILE's entries would run (tests)
 *   zinit --inittab FILE [ARG..] run as init from FILE instead (tests)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What zinit reads of a zone file (pathrs.ZoneTextMax). */
#define ZONE_TEXT_MAX (1 << 20)
/* The descriptor zsched gives zinit the per-zone binary at
 * (platform.ZinitExeFd), and the lowest one zinit keeps it at: a path
 * /proc/self/fd/N is resolved in the child, after its stdio is laid out. */
#define EXE_FD 3
#define MIN_FD 64
/* Respawn back-off (busybox restarts at once; a zone's init must not
 * spin a core on an entry that dies at birth). */
#define DELAY_FIRST_MS 100
#define DELAY_MAX_MS 10000
#define RAN_LONG_MS 10000

enum action { A_SYSINIT, A_WAIT, A_ONCE, A_RESPAWN, A_SHUTDOWN, A_ASKFIRST, A_CTRLALTDEL, A_RESTART };
static const char *const action_names[] = {"sysinit", "wait", "once", "respawn", "shutdown", "askfirst", "ctrlaltdel", "restart"};
#define N_ACTIONS (sizeof action_names / sizeof action_names[0])

struct entry {
	char *id, *process, *project;
	enum action action;
	int line;
	pid_t pid;         /* running, 0 if not */
	int waited;        /* run to completion: the loop waits for pid */
	long long started; /* ms, monotonic */
	long long due;     /* respawn due at (ms), 0 if not scheduled */
	long long delay;   /* current back-off, ms */
};

static struct entry *entries;
static size_t n_entries, cap_entries;
static int exe_fd = -1;
static int stopping;
static sigset_t waitset;
static char **environment;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* say writes one line to zinit's stdout (the console) in one write, so
 * that lines of concurrent writers do not interleave. */
static void say(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	for (char *p = buf; n > 0;) {
		ssize_t w = write(1, p, (size_t)n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (int)w;
	}
}

/* quote writes s as a double-quoted string with anything but printable
 * ASCII escaped: inittab text goes to the console, where a zone's garbage
 * must not become terminal control sequences. At most max bytes of s. */
static const char *quote(char *out, size_t outsz, const char *s, size_t max)
{
	size_t o = 0;
	out[o++] = '"';
	for (size_t i = 0; s[i] && o + 6 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i == max) {
			o += (size_t)snprintf(out + o, outsz - o, "...");
			break;
		}
		if (c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, outsz - o, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
	}
	if (o + 1 < outsz)
		out[o++] = '"';
	out[o] = 0;
	return out;
}

/* errstr is strerror as the rest of zonetop says errors (Go's way):
 * "no such file or directory". */
static const char *errstr(int err)
{
	static char buf[128];
	snprintf(buf, sizeof buf, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* trim cuts blanks off both ends of s in place. */
static char *trim(char *s)
{
	while (is_space(*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && is_space(s[n - 1]))
		s[--n] = 0;
	return s;
}

/* valid_project is api.ValidProjectName: the reason a name is refused, in
 * why, or 0 when it is fine. */
static int valid_project(const char *name, char *why, size_t whysz)
{
	char q[256];
	if (!*name) {
		snprintf(why, whysz, "empty project name");
		return -1;
	}
	for (size_t i = 0; name[i]; i++) {
		unsigned char c = (unsigned char)name[i];
		int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		if (i == 0 && !letter) {
			snprintf(why, whysz, "project name %s: must start with a letter", quote(q, sizeof q, name, 64));
			return -1;
		}
		if (!letter && !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-') {
			if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
				snprintf(why, whysz, "project name %s: '%c' not allowed (letters, digits, '.', '_', '-')",
				         quote(q, sizeof q, name, 64), c);
			else
				snprintf(why, whysz, "project name %s: '\\x%02x' not allowed (letters, digits, '.', '_', '-')",
				         quote(q, sizeof q, name, 64), c);
			return -1;
		}
	}
	return 0;
}

/* read_inittab reads path (relative to the cwd when not absolute) as
 * pathrs.ReadZoneFile does: no symbolic link anywhere on the way (the
 * zone's root owns every component), only a regular file (a FIFO would
 * stop the init before it starts anything), at most ZONE_TEXT_MAX bytes.
 * On failure it returns NULL with the reason in err. */
static char *read_inittab(const char *path, size_t *len, char *err, size_t errsz)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	int pfd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
	if (pfd < 0 && errno == ENOSYS) {
		/* Before Linux 5.6: the last component at least. */
		pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	}
	if (pfd < 0) {
		if (errno == ELOOP)
			snprintf(err, errsz, "%s: a symbolic link, not a regular file (zonetop does not follow it)", path);
		else
			snprintf(err, errsz, "open in zone %s: %s", path, errstr(errno));
		return NULL;
	}
	struct stat st, again;
	if (fstat(pfd, &st) < 0) {
		snprintf(err, errsz, "stat in zone %s: %s", path, errstr(errno));
		close(pfd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		const char *kind = S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
		                   : S_ISSOCK(st.st_mode)  ? "a socket"
		                   : S_ISCHR(st.st_mode)   ? "a character device"
		                   : S_ISBLK(st.st_mode)   ? "a block device"
		                   : S_ISLNK(st.st_mode)   ? "a symbolic link"
		                                           : "not a file";
		snprintf(err, errsz, "%s: %s, not a regular file", path, kind);
		close(pfd);
		return NULL;
	}
	if (st.st_size > ZONE_TEXT_MAX) {
		snprintf(err, errsz, "%s: %lld bytes, over the %d zonetop reads; refused", path, (long long)st.st_size,
		         ZONE_TEXT_MAX);
		close(pfd);
		return NULL;
	}
	/* The very inode the O_PATH descriptor holds, opened for reading. */
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
	int fd = open(proc, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	close(pfd);
	if (fd < 0) {
		snprintf(err, errsz, "open in zone %s: %s", path, errstr(errno));
		return NULL;
	}
	if (fstat(fd, &again) < 0 || again.st_ino != st.st_ino || again.st_dev != st.st_dev) {
		snprintf(err, errsz, "%s: changed while it was opened", path);
		close(fd);
		return NULL;
	}
	/* It may grow after the stat: read one byte past the limit to tell. */
	char *buf = malloc(ZONE_TEXT_MAX + 2);
	if (!buf) {
		snprintf(err, errsz, "read %s: out of memory", path);
		close(fd);
		return NULL;
	}
	size_t n = 0;
	while (n <= ZONE_TEXT_MAX) {
		ssize_t r = read(fd, buf + n, ZONE_TEXT_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errsz, "read %s: %s", path, errstr(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > ZONE_TEXT_MAX) {
		snprintf(err, errsz, "%s: over the %d bytes zonetop reads; refused", path, ZONE_TEXT_MAX);
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

static struct entry *add_entry(void)
{
	if (n_entries == cap_entries) {
		size_t c = cap_entries ? cap_entries * 2 : 16;
		struct entry *e = realloc(entries, c * sizeof *e);
		if (!e)
			return NULL;
		entries = e, cap_entries = c;
	}
	struct entry *e = &entries[n_entries++];
	memset(e, 0, sizeof *e);
	return e;
}

/* parse reads inittab text in place. Bad lines are reported and skipped:
 * an init must still boot the zone. A NUL byte ends a line's text (the
 * kernel could not run it anyway). */
static void parse(char *text, size_t len)
{
	char q[128], why[512];
	int lineno = 0;
	for (char *p = text; p <= text + len;) {
		char *nl = memchr(p, '\n', (size_t)(text + len - p));
		if (nl)
			*nl = 0;
		lineno++;
		char *line = trim(p);
		p = nl ? nl + 1 : text + len + 1;
		if (!*line || *line == '#')
			continue;
		char *f[4];
		int nf = 0;
		f[nf++] = line;
		for (char *c = line; *c && nf < 4; c++) {
			if (*c == ':') {
				*c = 0;
				f[nf++] = c + 1;
			}
		}
		if (nf != 4) {
			say("zinit: inittab line %d: want id:runlevels:action:process", lineno);
			continue;
		}
		char *action = trim(f[2]);
		size_t a;
		for (a = 0; a < N_ACTIONS; a++)
			if (!strcmp(action, action_names[a]))
				break;
		if (a == N_ACTIONS) {
			say("zinit: inittab line %d: unknown action %s", lineno, quote(q, sizeof q, action, 32));
			continue;
		}
		char *process = trim(f[3]);
		if (!*process) {
			say("zinit: inittab line %d: no process", lineno);
			continue;
		}
		char *project = NULL, *rl = trim(f[1]);
		if (!strncmp(rl, "project=", 8)) {
			project = rl + 8;
			if (valid_project(project, why, sizeof why) < 0) {
				say("zinit: inittab line %d: %s", lineno, why);
				continue;
			}
		}
		struct entry *e = add_entry();
		if (!e) {
			say("zinit: inittab line %d: out of memory; the rest is not read", lineno);
			return;
		}
		e->id = trim(f[0]);
		e->process = process;
		e->project = project;
		e->action = (enum action)a;
		e->line = lineno;
	}
}

/* console_hint says plainly why the console will stay quiet when nothing
 * in the inittab keeps a process on it, and how to get a shell: a blank
 * console after boot otherwise looks like a hung zone. */
static const char *console_hint(void)
{
	for (size_t i = 0; i < n_entries; i++) {
		struct entry *e = &entries[i];
		if ((e->action == A_RESPAWN || e->action == A_ASKFIRST) && (!*e->id || !strcmp(e->id, "console")))
			return NULL;
	}
	return "nothing in /etc/inittab runs on this console; for a shell, zlogin to the zone from the global zone, "
	       "or add console::respawn:-/bin/sh to /etc/inittab";
}

/* The characters for which busybox init hands a process field to
 * /bin/sh -c. A field without any it splits on blanks and runs itself: one
 * process fewer per entry. */
static const char shell_chars[] = "~`!$^&*()=|\\{}[];\"'<>?";

static int executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && !S_ISDIR(st.st_mode) && (st.st_mode & 0111);
}

/* look_path finds name as exec.LookPath does (PATH's absolute entries
 * only), into out. */
static int look_path(const char *name, char *out, size_t outsz)
{
	if (strchr(name, '/')) {
		if (!executable(name) || strlen(name) >= outsz)
			return -1;
		strcpy(out, name);
		return 0;
	}
	const char *path = getenv("PATH");
	if (!path)
		return -1;
	while (*path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		if (n > 0 && path[0] == '/' && n + 1 + strlen(name) < outsz) {
			memcpy(out, path, n);
			out[n] = '/';
			strcpy(out + n + 1, name);
			if (executable(out))
				return 0;
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return -1;
}

/* A command an entry runs: the file to execute and its argv. */
struct command {
	char path[PATH_MAX]; /* what execve is given */
	char file[PATH_MAX]; /* the command found on PATH */
	char **argv; /* malloc'd vector; its strings point into words or the entry */
	char *words; /* malloc'd copy of the process field, split */
	char *arg0;  /* malloc'd "-name" of a login shell */
	int login;
};

static void free_command(struct command *c)
{
	free(c->argv);
	free(c->words);
	free(c->arg0);
}

/* build_command is how an entry starts. The entry's own process field is
 * run directly when busybox would, through /bin/sh -c otherwise (or when
 * the command is not found, so the shell says so on the console as it
 * always did); a project entry runs as newtask -p PROJECT COMMAND... of the
 * per-zone binary. */
static int build_command(const struct entry *e, struct command *c)
{
	memset(c, 0, sizeof *c);
	const char *proc = e->process;
	if (*proc == '-') {
		/* busybox init's '-': a login shell (argv[0] "-sh" makes a
		 * shell read /etc/profile) whose terminal is its controlling
		 * one, so ctrl-C and job control work on it. */
		c->login = 1;
		proc++;
	}
	size_t plen = strlen(proc);
	/* Room for newtask -p PROJECT, the words and the terminating NULL. */
	size_t maxv = plen / 2 + 8;
	c->argv = calloc(maxv, sizeof *c->argv);
	if (!c->argv)
		return -1;
	char **words = c->argv + 3; /* leave room for newtask -p PROJECT */
	size_t nw = 0;
	int direct = 0;
	if (!strpbrk(proc, shell_chars)) {
		c->words = strdup(proc);
		if (!c->words)
			return -1;
		for (char *s = c->words; *s;) {
			while (is_space(*s))
				*s++ = 0;
			if (!*s)
				break;
			words[nw++] = s;
			while (*s && !is_space(*s))
				s++;
		}
		if (nw > 0 && look_path(words[0], c->path, sizeof c->path) == 0)
			direct = 1;
	}
	if (!direct) {
		strcpy(c->path, "/bin/sh");
		words[0] = "sh";
		words[1] = "-c";
		words[2] = (char *)proc;
		nw = 3;
	}
	words[nw] = NULL;
	if (c->login) {
		const char *base = strrchr(words[0], '/');
		base = base ? base + 1 : words[0];
		if (asprintf(&c->arg0, "-%s", base) < 0) {
			c->arg0 = NULL;
			return -1;
		}
		words[0] = c->arg0;
	}
	if (e->project) {
		if (direct) {
			strcpy(c->file, c->path);
			words[0] = c->file;
		} else
			words[0] = "/bin/sh";
		c->argv[0] = "newtask";
		c->argv[1] = "-p";
		c->argv[2] = e->project;
		if (exe_fd >= 0)
			snprintf(c->path, sizeof c->path, "/proc/self/fd/%d", exe_fd);
		else
			strcpy(c->path, "@per-zone-binary");
		return 0;
	}
	memmove(c->argv, words, (nw + 1) * sizeof *words);
	return 0;
}

/* default_signals gives every signal its default disposition. exec
 * resets caught ones, but an ignored one (zinit started under nohup, or
 * by anything that ignores a real-time signal) would pass on to the
 * zone's processes, and a console shell deaf to a signal is a broken
 * shell. The kernel's own call: libc refuses its internal signals. */
static void default_signals(void)
{
	struct {
		void (*handler)(int);
		unsigned long flags;
		void (*restorer)(void);
		unsigned long mask;
	} dfl = {.handler = SIG_DFL};
	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
}

/* The child's side of spawn: never returns. Failures before the exec go
 * to the parent over errfd as an errno. */
static void child(const struct entry *e, const struct command *c, int errfd)
{
	sigset_t none;
	default_signals();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	if (*e->id && !strpbrk(e->id, "/.")) {
		/* O_NOCTTY: the child takes it below only for a login entry.
		 * O_NONBLOCK: a FIFO the zone put in /dev holds up this child,
		 * never zinit, and not even the child. */
		char tty[PATH_MAX];
		snprintf(tty, sizeof tty, "/dev/%s", e->id);
		int fd = open(tty, O_RDWR | O_NOCTTY | O_NONBLOCK);
		if (fd >= 0) {
			int fl = fcntl(fd, F_GETFL);
			if (fl >= 0)
				fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
	if (c->login) {
		/* Another session's already (a second login entry on the
		 * console): run without taking it rather than not at all. */
		ioctl(0, TIOCSCTTY, 0);
	}
	if (chdir("/") < 0) {
		int err = errno;
		(void)!write(errfd, &err, sizeof err);
		_exit(127);
	}
	/* Every zone process but init is the out-of-memory killer's pick
	 * before zonetop's machinery (platform.ZoneOOMScoreAdj). Set here,
	 * before the command runs: set by zinit after the exec, a command
	 * that starts at once (or forks at once) ran without it a while. */
	int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (oom >= 0) {
		(void)!write(oom, "500", 3);
		close(oom);
	}
	execve(c->path, c->argv, environment);
	int err = errno;
	(void)!write(errfd, &err, sizeof err);
	_exit(127);
}

/* spawn starts an entry's process; 0 on failure, said on the console. */
static pid_t spawn(struct entry *e)
{
	struct command c;
	if (build_command(e, &c) < 0) {
		say("zinit: inittab line %d: out of memory", e->line);
		free_command(&c);
		return 0;
	}
	if (e->project && exe_fd < 0) {
		say("zinit: inittab line %d: no per-zone binary to run newtask from", e->line);
		free_command(&c);
		return 0;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		say("zinit: inittab line %d: pipe: %s", e->line, errstr(errno));
		free_command(&c);
		return 0;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		child(e, &c, p[1]);
	}
	int ferr = errno;
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		say("zinit: inittab line %d: fork/exec %s: %s", e->line, c.path, errstr(ferr));
		free_command(&c);
		return 0;
	}
	int err = 0;
	ssize_t r;
	do
		r = read(p[0], &err, sizeof err);
	while (r < 0 && errno == EINTR);
	close(p[0]);
	if (r == (ssize_t)sizeof err) {
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		say("zinit: inittab line %d: fork/exec %s: %s", e->line, c.path, errstr(err));
		free_command(&c);
		return 0;
	}
	free_command(&c);
	e->pid = pid;
	e->started = now_ms();
	return pid;
}

/* next_delay grows a respawn entry's delay while it keeps dying soon after
 * it starts, and resets it once it ran for a while. */
static long long next_delay(struct entry *e, long long ran)
{
	if (ran > RAN_LONG_MS)
		e->delay = 0;
	else if (e->delay == 0)
		e->delay = DELAY_FIRST_MS;
	else if ((e->delay *= 2) > DELAY_MAX_MS)
		e->delay = DELAY_MAX_MS;
	return e->delay;
}

/* reap collects ended children and schedules respawns. zinit is not the
 * zone's PID 1 (zsched is), so orphans go there, not here. */
static void reap(void)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;
		for (size_t i = 0; i < n_entries; i++) {
			struct entry *e = &entries[i];
			if (e->pid != pid)
				continue;
			e->pid = 0;
			long long now = now_ms();
			if (e->action == A_RESPAWN && !e->waited && !stopping)
				e->due = now + next_delay(e, now - e->started);
			e->waited = 0;
			break;
		}
	}
}

/* wait_signal sleeps until one of zinit's signals comes or timeout_ms
 * passes (forever when negative); it reaps on SIGCHLD and returns 1 when
 * asked to stop. */
static int wait_signal(long long timeout_ms)
{
	siginfo_t si;
	int sig;
	if (timeout_ms < 0) {
		sig = sigwaitinfo(&waitset, &si);
	} else {
		struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (timeout_ms % 1000) * 1000000};
		sig = sigtimedwait(&waitset, &si, &ts);
	}
	switch (sig) {
	case SIGCHLD:
		reap();
		return 0;
	case SIGTERM:
	case SIGUSR1:
	case SIGUSR2:
		return 1;
	}
	return 0;
}

/* run_wait runs an entry to completion. It returns 1 when a stop came
 * meanwhile: the entry is then left running, for shutdown to end. */
static int run_wait(struct entry *e, int stoppable)
{
	if (!spawn(e))
		return 0;
	e->waited = 1;
	while (e->pid) {
		if (wait_signal(-1) && stoppable) {
			e->waited = 0;
			return 1;
		}
	}
	return 0;
}

static void shutdown_zone(void)
{
	stopping = 1;
	say("zinit: shutting down");
	for (size_t i = 0; i < n_entries; i++)
		if (entries[i].action == A_SHUTDOWN)
			run_wait(&entries[i], 0);
	reap();
	for (size_t i = 0; i < n_entries; i++) {
		pid_t pid = entries[i].pid;
		if (!pid)
			continue;
		/* A hangup first: an interactive shell (the console's)
		 * ignores SIGTERM, and a shutdown is its terminal going away. */
		kill(-pid, SIGHUP);
		kill(-pid, SIGTERM);
		kill(pid, SIGTERM);
	}
}

static void drop(int sig)
{
	(void)sig;
}

static int run_init(const char *inittab, int argc, char **argv)
{
	/* Caught and dropped rather than ignored: an ignored disposition is
	 * inherited through exec, and the inittab's processes (a console
	 * shell) would be deaf to ctrl-C, ctrl-Z and hangups. */
	static const int dropped[] = {SIGHUP, SIGINT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU, SIGQUIT};
	struct sigaction sa = {.sa_handler = drop};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
		sigaction(dropped[i], &sa, NULL);
	/* zsched starts zinit with SIGUSR1 and SIGUSR2 blocked: one that
	 * comes before this point waits here rather than killing it. */
	sigemptyset(&waitset);
	sigaddset(&waitset, SIGCHLD);
	sigaddset(&waitset, SIGTERM);
	sigaddset(&waitset, SIGUSR1);
	sigaddset(&waitset, SIGUSR2);
	sigprocmask(SIG_SETMASK, &waitset, NULL);
	/* Waited for, blocked, and never ignored: an ignored SIGCHLD (a
	 * disposition inherited through exec) would have the kernel reap the
	 * children before zinit could tell which entry ended. */
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&waitset, sig) == 1)
			sigaction(sig, &dfl, NULL);

	if (argc > 2) {
		char args[1024];
		size_t o = 0;
		args[0] = 0;
		for (int i = 2; i < argc && o + 2 < sizeof args; i++)
			o += (size_t)snprintf(args + o, sizeof args - o, "%s%s", i > 2 ? " " : "", argv[i]);
		say("zinit: boot arguments: %s", args);
	}
	char err[PATH_MAX + 256];
	size_t len = 0;
	char *text = read_inittab(inittab, &len, err, sizeof err);
	if (!text)
		say("zinit: %s; nothing to start", err);
	else
		parse(text, len);
	const char *hint = console_hint();
	if (hint)
		say("zinit: %s", hint);

	int stop = 0;
	for (int pass = 0; pass < 2 && !stop; pass++) {
		enum action a = pass ? A_WAIT : A_SYSINIT;
		for (size_t i = 0; i < n_entries && !stop; i++)
			if (entries[i].action == a)
				stop = run_wait(&entries[i], 1);
	}
	if (!stop) {
		long long now = now_ms();
		for (size_t i = 0; i < n_entries; i++) {
			struct entry *e = &entries[i];
			switch (e->action) {
			case A_ONCE:
				spawn(e);
				break;
			case A_RESPAWN:
				e->due = now;
				break;
			case A_ASKFIRST:
			case A_CTRLALTDEL:
			case A_RESTART:
				say("zinit: inittab line %d: %s is not used in a zone; ignored", e->line,
				    action_names[e->action]);
				break;
			default:
				break;
			}
		}
	}
	while (!stop) {
		/* Sleep until the next respawn is due, a child's end schedules
		 * one, or shutdown: the init of a zone at rest does not wake. */
		long long next = 0, now = now_ms();
		for (size_t i = 0; i < n_entries; i++)
			if (entries[i].due && (!next || entries[i].due < next))
				next = entries[i].due;
		if (!next || next > now) {
			if (wait_signal(next ? next - now : -1))
				break;
			now = now_ms();
		}
		for (size_t i = 0; i < n_entries; i++) {
			struct entry *e = &entries[i];
			if (!e->due || now < e->due)
				continue;
			e->due = 0;
			if (!spawn(e))
				e->due = now_ms() + next_delay(e, 0);
		}
	}
	shutdown_zone();
	return 0;
}

/* parse_only prints how each entry of file would run, one per line:
 * "entry", line, id, action, project ("-" for none), path, then the argv,
 * tab-separated; warnings and the hint as zinit says them. */
static int parse_only(const char *file)
{
	char err[PATH_MAX + 256];
	size_t len = 0;
	char *text = read_inittab(file, &len, err, sizeof err);
	if (!text) {
		say("zinit: %s; nothing to start", err);
		return 1;
	}
	parse(text, len);
	const char *hint = console_hint();
	if (hint)
		say("zinit: %s", hint);
	for (size_t i = 0; i < n_entries; i++) {
		struct entry *e = &entries[i];
		struct command c;
		if (build_command(e, &c) < 0)
			return 1;
		printf("entry\t%d\t%s\t%s\t%s\t%s", e->line, e->id, action_names[e->action], e->project ? e->project : "-",
		       c.path);
		for (char **a = c.argv; *a; a++)
			printf("\t%s", *a);
		printf("\n");
		free_command(&c);
	}
	return fflush(stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
	environment = environ;
	if (argc >= 3 && !strcmp(argv[1], "--parse"))
		return parse_only(argv[2]);
	const char *inittab = "/etc/inittab";
	if (argc >= 3 && !strcmp(argv[1], "--inittab")) {
		inittab = argv[2];
		argv += 1, argc -= 1; /* argv[2..] are then boot arguments, as below */
	} else if (argc < 2 || strcmp(argv[1], "zinit")) {
		fprintf(stderr, "zinit: zsched starts this program as a zone's init (zoneadm boot); it is not run by hand\n");
		return 2;
	}
	prctl(PR_SET_NAME, "zinit", 0, 0, 0);
	/* The per-zone binary, for newtask: kept high and close-on-exec, so
	 * that no inittab process inherits it. */
	if (fcntl(EXE_FD, F_GETFD) >= 0) {
		exe_fd = fcntl(EXE_FD, F_DUPFD_CLOEXEC, MIN_FD);
		close(EXE_FD);
	}
	/* Nothing else it may have been started with reaches the zone's
	 * processes (zsched gives it none; a test harness may). */
	syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
	/* Only the variables zsched gave, and RUNLEVEL as busybox sets it. */
	if (setenv("RUNLEVEL", "S", 1) == 0)
		environment = environ;
	return run_init(inittab, argc, argv);
}
